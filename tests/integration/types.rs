//! Type round trips: each value's type OID, its text form (simple protocol) and its binary
//! form (extended protocol), checked against literal PostgreSQL output.

use tokio_postgres::types::Type;

use crate::harness::{TestServer, simple_rows};
use crate::pgtext::{AsText, RawBytes};

struct Case {
    sql: &'static str,
    oid: u32,
    text: Option<&'static str>,
    binary: Option<Vec<u8>>,
}

fn case(sql: &'static str, ty: Type, text: &'static str, binary: impl Into<Vec<u8>>) -> Case {
    Case {
        sql,
        oid: ty.oid(),
        text: Some(text),
        binary: Some(binary.into()),
    }
}

fn words(words: &[i16]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_be_bytes()).collect()
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// PostgreSQL's binary array: one dimension, lower bound 1, elements with length words
/// (-1 for NULL).
fn array(element_oid: u32, elements: &[Option<&[u8]>]) -> Vec<u8> {
    let has_null = elements.iter().any(Option::is_none);
    let mut bytes = cat(&[
        &1i32.to_be_bytes(),
        &i32::from(has_null).to_be_bytes(),
        &element_oid.to_be_bytes(),
        &(elements.len() as i32).to_be_bytes(),
        &1i32.to_be_bytes(),
    ]);
    for element in elements {
        match element {
            Some(value) => {
                bytes.extend_from_slice(&(value.len() as i32).to_be_bytes());
                bytes.extend_from_slice(value);
            }
            None => bytes.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
    bytes
}

const DAYS_2000_TO_2024_01_02: i32 = 8767;

fn cases() -> Vec<Case> {
    let ts_micros = (DAYS_2000_TO_2024_01_02 as i64 * 86_400 + 3 * 3600 + 4 * 60 + 5) * 1_000_000;
    vec![
        case("SELECT true", Type::BOOL, "t", [1]),
        case("SELECT false", Type::BOOL, "f", [0]),
        case("SELECT 1::int2", Type::INT2, "1", [0, 1]),
        case("SELECT 42", Type::INT4, "42", [0, 0, 0, 42]),
        case(
            "SELECT -2147483648::int8",
            Type::INT8,
            "-2147483648",
            (-2147483648i64).to_be_bytes(),
        ),
        case(
            "SELECT 9223372036854775807::int8",
            Type::INT8,
            "9223372036854775807",
            i64::MAX.to_be_bytes(),
        ),
        case(
            "SELECT 1.5::float4",
            Type::FLOAT4,
            "1.5",
            1.5f32.to_be_bytes(),
        ),
        case(
            "SELECT 0.1::float8",
            Type::FLOAT8,
            "0.1",
            0.1f64.to_be_bytes(),
        ),
        case(
            "SELECT 1e20::float8",
            Type::FLOAT8,
            "1e+20",
            1e20f64.to_be_bytes(),
        ),
        case(
            "SELECT 0.00001::float8",
            Type::FLOAT8,
            "1e-05",
            0.00001f64.to_be_bytes(),
        ),
        case(
            "SELECT 'NaN'::float8",
            Type::FLOAT8,
            "NaN",
            f64::NAN.to_be_bytes(),
        ),
        case(
            "SELECT 'Infinity'::float8",
            Type::FLOAT8,
            "Infinity",
            f64::INFINITY.to_be_bytes(),
        ),
        case(
            "SELECT '-Infinity'::float8",
            Type::FLOAT8,
            "-Infinity",
            f64::NEG_INFINITY.to_be_bytes(),
        ),
        case(
            "SELECT 12.50::numeric(10,2)",
            Type::NUMERIC,
            "12.50",
            words(&[2, 0, 0, 2, 12, 5000]),
        ),
        case(
            "SELECT -0.05::numeric(4,3)",
            Type::NUMERIC,
            "-0.050",
            words(&[1, -1, 0x4000, 3, 500]),
        ),
        case("SELECT 'héllo'", Type::TEXT, "héllo", "héllo".as_bytes()),
        case("SELECT ''", Type::TEXT, "", []),
        case(
            "SELECT decode('00ff41', 'hex')",
            Type::BYTEA,
            "\\x00ff41",
            [0, 255, 65],
        ),
        case(
            "SELECT DATE '2024-01-02'",
            Type::DATE,
            "2024-01-02",
            DAYS_2000_TO_2024_01_02.to_be_bytes(),
        ),
        case(
            "SELECT DATE '1999-12-31'",
            Type::DATE,
            "1999-12-31",
            (-1i32).to_be_bytes(),
        ),
        case(
            "SELECT TIME '12:34:56.789'",
            Type::TIME,
            "12:34:56.789",
            45_296_789_000i64.to_be_bytes(),
        ),
        case(
            "SELECT TIMESTAMP '2024-01-02 03:04:05.123456'",
            Type::TIMESTAMP,
            "2024-01-02 03:04:05.123456",
            (ts_micros + 123_456).to_be_bytes(),
        ),
        case(
            "SELECT TIMESTAMPTZ '2024-01-02 03:04:05+00'",
            Type::TIMESTAMPTZ,
            "2024-01-02 03:04:05+00",
            ts_micros.to_be_bytes(),
        ),
        case(
            "SELECT INTERVAL '1 year 2 months 3 days 4 seconds'",
            Type::INTERVAL,
            "1 year 2 mons 3 days 00:00:04",
            cat(&[
                &4_000_000i64.to_be_bytes(),
                &3i32.to_be_bytes(),
                &14i32.to_be_bytes(),
            ]),
        ),
        case(
            "SELECT make_array(1, NULL, 3)",
            Type::INT8_ARRAY,
            "{1,NULL,3}",
            array(
                20,
                &[Some(&1i64.to_be_bytes()), None, Some(&3i64.to_be_bytes())],
            ),
        ),
        case(
            "SELECT make_array('a b', 'c')",
            Type::TEXT_ARRAY,
            "{\"a b\",c}",
            array(25, &[Some(b"a b"), Some(b"c")]),
        ),
        case(
            "SELECT named_struct('a', 1, 'b', 'x')",
            Type::JSON,
            "{\"a\":1,\"b\":\"x\"}",
            &b"{\"a\":1,\"b\":\"x\"}"[..],
        ),
        case(
            "SELECT arrow_cast(decode('00112233445566778899aabbccddeeff', 'hex'), 'FixedSizeBinary(16)')",
            Type::UUID,
            "00112233-4455-6677-8899-aabbccddeeff",
            [
                0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
                0xee, 0xff,
            ],
        ),
        Case {
            sql: "SELECT NULL::int4",
            oid: Type::INT4.oid(),
            text: None,
            binary: None,
        },
    ]
}

/// The first value of the first row, by the simple protocol (text).
async fn text_of(client: &tokio_postgres::Client, sql: &str) -> Option<String> {
    let rows = simple_rows(client, sql).await;
    let Some(first) = rows.into_iter().next() else {
        panic!("{sql}: no row");
    };
    first.into_iter().next().flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_round_trip_in_text_and_binary() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    let mut failures = Vec::new();
    for case in cases() {
        let text = text_of(&client, case.sql).await;
        if text.as_deref() != case.text {
            failures.push(format!(
                "{}: text {:?}, expected {:?}",
                case.sql, text, case.text
            ));
        }
        let row = match client.query_one(case.sql, &[]).await {
            Ok(row) => row,
            Err(e) => {
                failures.push(format!("{}: {e}", case.sql));
                continue;
            }
        };
        let oid = row.columns()[0].type_().oid();
        if oid != case.oid {
            failures.push(format!(
                "{}: type oid {oid}, expected {}",
                case.sql, case.oid
            ));
        }
        let binary = row.get::<_, RawBytes>(0).0;
        if binary != case.binary {
            failures.push(format!(
                "{}: binary {:02x?}, expected {:02x?}",
                case.sql, binary, case.binary
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamptz_uses_the_session_time_zone() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    client
        .batch_execute("SET TimeZone = 'Europe/Amsterdam'")
        .await
        .unwrap();
    let text = text_of(&client, "SELECT TIMESTAMPTZ '2024-07-01 12:00:00+00'").await;
    assert_eq!(text.as_deref(), Some("2024-07-01 14:00:00+02"));
    let text = text_of(&client, "SELECT tstz FROM alltypes WHERE id = 1").await;
    assert_eq!(text.as_deref(), Some("2024-01-02 04:04:05+01"));
}

/// Every Arrow type the fixture holds, read from Parquet: the text form under both
/// protocols, and NULL in every column of the second row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_columns_map_to_postgres_types() {
    let expected: &[(&str, Type, &str)] = &[
        ("id", Type::INT4, "1"),
        ("b", Type::BOOL, "t"),
        ("i16", Type::INT2, "-32768"),
        ("i32", Type::INT4, "2147483647"),
        ("i64", Type::INT8, "-9223372036854775808"),
        ("f32", Type::FLOAT4, "1.1"),
        ("f64", Type::FLOAT8, "NaN"),
        ("dec", Type::NUMERIC, "-1234.567"),
        ("s", Type::TEXT, "héllo, 'world'"),
        ("bin", Type::BYTEA, "\\x00ff6162"),
        ("d", Type::DATE, "2024-01-01"),
        ("t", Type::TIME, "12:34:56.789"),
        ("ts", Type::TIMESTAMP, "2024-01-02 03:04:05.123456"),
        ("tstz", Type::TIMESTAMPTZ, "2024-01-02 03:04:05+00"),
        ("u8", Type::INT2, "255"),
        ("u64", Type::NUMERIC, "18446744073709551615"),
        ("l", Type::INT4_ARRAY, "{1,NULL,3}"),
        ("st", Type::JSON, "{\"a\":1,\"b\":\"x\\\"y\"}"),
    ];
    let server = TestServer::start().await;
    let client = server.connect().await;
    let mut failures = Vec::new();
    for (column, ty, text) in expected {
        let sql = format!("SELECT {column} FROM alltypes ORDER BY id");
        let texts: Vec<Option<String>> = simple_rows(&client, &sql)
            .await
            .into_iter()
            .map(|row| row.into_iter().next().flatten())
            .collect();
        let second = if *column == "id" { Some("2") } else { None };
        if texts.iter().map(Option::as_deref).ne([Some(*text), second]) {
            failures.push(format!(
                "{column}: simple protocol gave {texts:?}, expected {text:?}"
            ));
        }
        let rows = client.query(&sql, &[]).await.unwrap();
        if rows[0].columns()[0].type_() != ty {
            failures.push(format!(
                "{column}: type {}, expected {ty}",
                rows[0].columns()[0].type_()
            ));
        }
        let decoded = rows[0].try_get::<_, AsText>(0).map(|v| v.0);
        match decoded {
            Ok(Some(value)) if value == *text => {}
            other => failures.push(format!(
                "{column}: binary decoded to {other:?}, expected {text:?}"
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_parameters_round_trip() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    let row = client
        .query_one(
            "SELECT $1::int2, $2::int4, $3::int8, $4::float8, $5::text, $6::bool, $7::bytea",
            &[
                &-7i16,
                &1_000_000i32,
                &-5_000_000_000i64,
                &2.5f64,
                &"ünïcode",
                &true,
                &vec![0u8, 1, 255],
            ],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i16>(0), -7);
    assert_eq!(row.get::<_, i32>(1), 1_000_000);
    assert_eq!(row.get::<_, i64>(2), -5_000_000_000);
    assert_eq!(row.get::<_, f64>(3), 2.5);
    assert_eq!(row.get::<_, String>(4), "ünïcode");
    assert!(row.get::<_, bool>(5));
    assert_eq!(row.get::<_, Vec<u8>>(6), vec![0u8, 1, 255]);
}
