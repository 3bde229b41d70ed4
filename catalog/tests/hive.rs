//! The Hive Metastore backend against a real Hive Metastore (`HMS_TEST_ADDRESS=host:port`;
//! `.ci/run` starts one with `../shared/tools/hive-metastore.sh`): the backend contract,
//! and what a metastore that is down or restarts does to calls. Without a metastore the
//! tests skip, loudly, unless REQUIRE_HMS is set.

use std::sync::Arc;
use std::time::Duration;

use lakeport_catalog::hive::HiveMetastore;
use lakeport_catalog::hive::client::Connection;
use lakeport_catalog::hive::thrift::Value;
use lakeport_catalog::{CatalogErrorKind, Metastore, contract};

fn metastore() -> Option<HiveMetastore> {
    let Ok(address) = std::env::var("HMS_TEST_ADDRESS") else {
        assert!(
            std::env::var_os("REQUIRE_HMS").is_none(),
            "REQUIRE_HMS is set but HMS_TEST_ADDRESS is not"
        );
        eprintln!("\n*** SKIPPED: no Hive Metastore (set HMS_TEST_ADDRESS=host:port) ***\n");
        return None;
    };
    Some(HiveMetastore::new(&format!("thrift://{address}"), Duration::from_secs(30)).unwrap())
}

/// A scratch directory for the locations the metastore creates directories at.
fn scratch(test: &str) -> String {
    let dir = std::env::temp_dir().join(format!("lakeport-hms-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    format!("file://{}", dir.display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hive_backend_passes_the_contract() {
    let Some(metastore) = metastore() else {
        return;
    };
    let prefix = format!("contract{}", std::process::id());
    contract::run(Arc::new(metastore), &prefix, &scratch("contract")).await;
}

#[tokio::test]
async fn an_unreachable_metastore_is_a_backend_error_naming_it() {
    // A port nothing listens on: bind one, then let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let metastore = HiveMetastore::new(
        &format!("thrift://127.0.0.1:{port}"),
        Duration::from_secs(2),
    )
    .unwrap();
    let error = metastore.list_databases().await.unwrap_err();
    assert_eq!(error.kind, CatalogErrorKind::Backend, "{error}");
    assert!(
        error
            .message
            .contains(&format!("thrift://127.0.0.1:{port}")),
        "{error}"
    );
    for bad in [
        "127.0.0.1:9083",
        "thrift://",
        "thrift://host",
        "thrift://host:port",
    ] {
        let error = HiveMetastore::new(bad, Duration::from_secs(1)).unwrap_err();
        assert_eq!(error.kind, CatalogErrorKind::Invalid, "{bad}: {error}");
    }
}

/// What Spark and Hive keep on a table (statistics, counters) survives lakeport altering it.
#[tokio::test]
async fn altering_a_table_keeps_what_spark_keeps_on_it() {
    let Some(metastore) = metastore() else {
        return;
    };
    let database = format!("keep{}", std::process::id());
    let root = scratch("keep");
    metastore
        .create_database(&contract::database_in(&root, &database))
        .await
        .unwrap();
    let table = contract::table_in(&root, &database, "orders", &[]);
    metastore.create_table(&table, &[]).await.unwrap();

    // Spark's ANALYZE TABLE writes its statistics as table parameters.
    let address = std::env::var("HMS_TEST_ADDRESS").unwrap();
    let mut connection = Connection::connect(&address, Duration::from_secs(30)).unwrap();
    let key = |name: &str| (1, Value::string(name));
    let mut raw = connection
        .call(
            "get_table",
            vec![key(&database), (2, Value::string("orders"))],
        )
        .unwrap();
    let Value::Struct(fields) = &mut raw else {
        panic!("a table is a struct")
    };
    for (id, value) in fields.iter_mut() {
        if *id == 9 {
            let mut parameters = value.as_string_map();
            parameters.insert("spark.sql.statistics.numRows".into(), "42".into());
            *value = Value::string_map(&parameters);
        }
    }
    connection
        .call(
            "alter_table",
            vec![key(&database), (2, Value::string("orders")), (3, raw)],
        )
        .unwrap();

    let mut altered = metastore.get_table(&database, "orders").await.unwrap();
    altered
        .properties
        .insert("owner.team".into(), "sales".into());
    metastore
        .alter_table(&database, "orders", &altered)
        .await
        .unwrap();
    let raw = connection
        .call(
            "get_table",
            vec![key(&database), (2, Value::string("orders"))],
        )
        .unwrap();
    let parameters = raw.field(9).unwrap().as_string_map();
    assert_eq!(
        parameters["spark.sql.statistics.numRows"], "42",
        "{parameters:?}"
    );
    assert_eq!(parameters["owner.team"], "sales");
    let read = metastore.get_table(&database, "orders").await.unwrap();
    assert_eq!(
        read.properties, altered.properties,
        "Spark's keys stay hidden"
    );
    metastore.drop_database(&database, true).await.unwrap();
}
