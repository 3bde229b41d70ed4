-- The TPC-H tables in PostgreSQL 15 for bench/suite.py, typed as lakeport's demo tables
-- are (Int64 → int8, Int32 → int4, Decimal128(15,2) → numeric(15,2), Date32 → date,
-- Utf8View → text). Loaded with COPY from lakeport, then indexes.sql.
CREATE TABLE nation (n_nationkey int8, n_name text, n_regionkey int8, n_comment text);
CREATE TABLE region (r_regionkey int8, r_name text, r_comment text);
CREATE TABLE part (p_partkey int8, p_name text, p_mfgr text, p_brand text, p_type text,
    p_size int4, p_container text, p_retailprice numeric(15,2), p_comment text);
CREATE TABLE supplier (s_suppkey int8, s_name text, s_address text, s_nationkey int8,
    s_phone text, s_acctbal numeric(15,2), s_comment text);
CREATE TABLE partsupp (ps_partkey int8, ps_suppkey int8, ps_availqty int4,
    ps_supplycost numeric(15,2), ps_comment text);
CREATE TABLE customer (c_custkey int8, c_name text, c_address text, c_nationkey int8,
    c_phone text, c_acctbal numeric(15,2), c_mktsegment text, c_comment text);
CREATE TABLE orders (o_orderkey int8, o_custkey int8, o_orderstatus text,
    o_totalprice numeric(15,2), o_orderdate date, o_orderpriority text, o_clerk text,
    o_shippriority int4, o_comment text);
CREATE TABLE lineitem (l_orderkey int8, l_partkey int8, l_suppkey int8, l_linenumber int4,
    l_quantity numeric(15,2), l_extendedprice numeric(15,2), l_discount numeric(15,2),
    l_tax numeric(15,2), l_returnflag text, l_linestatus text, l_shipdate date,
    l_commitdate date, l_receiptdate date, l_shipinstruct text, l_shipmode text,
    l_comment text);
