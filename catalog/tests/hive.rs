//! The Hive Metastore backend against a real Hive Metastore (`HMS_TEST_ADDRESS=host:port`;
//! `.ci/run` starts one with `../shared/tools/hive-metastore.sh`): the Thrift client, the
//! backend contract, what lakeport's changes keep of others' table parameters, and what an
//! unreachable metastore does to calls. Without a metastore the
//! tests skip, loudly, unless REQUIRE_HMS is set.

use std::sync::Arc;
use std::time::Duration;

use lakeport_catalog::hive::HiveMetastore;
use lakeport_catalog::hive::client::{CallError, Connection};
use lakeport_catalog::hive::thrift::Value;
use lakeport_catalog::{CatalogErrorKind, Metastore, contract};

/// The metastore's `host:port`; `None`, said loudly, without one.
fn address() -> Option<String> {
    let Ok(address) = std::env::var("HMS_TEST_ADDRESS") else {
        assert!(
            std::env::var_os("REQUIRE_HMS").is_none(),
            "REQUIRE_HMS is set but HMS_TEST_ADDRESS is not"
        );
        eprintln!("\n*** SKIPPED: no Hive Metastore (set HMS_TEST_ADDRESS=host:port) ***\n");
        return None;
    };
    Some(address)
}

fn metastore() -> Option<HiveMetastore> {
    let address = address()?;
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
    let location = scratch("contract");
    contract::run(Arc::new(metastore), &prefix, &location).await;
    // Left behind only when the contract fails, for a look at what it wrote.
    let _ = std::fs::remove_dir_all(location.trim_start_matches("file://"));
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
    let address = address().expect("the metastore answered above");
    let mut connection = Connection::connect(&address, Duration::from_secs(30)).unwrap();
    let key = |name: &str| (1, Value::string(name));
    let mut raw = connection
        .call(
            "get_table",
            vec![key(&database), (2, Value::string("orders"))],
        )
        .unwrap();
    let mut parameters = raw.field(9).unwrap().as_string_map();
    parameters.insert("spark.sql.statistics.numRows".into(), "42".into());
    raw.set_field(9, Value::string_map(&parameters));
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
        "Spark's keys are not properties"
    );
    assert_eq!(
        read.statistics.and_then(|statistics| statistics.rows),
        Some(42),
        "Spark's row count is the table's statistics"
    );
    metastore.drop_database(&database, true).await.unwrap();
    let _ = std::fs::remove_dir_all(root.trim_start_matches("file://"));
}

/// The Thrift client on its own: answers, declared exceptions, an unknown method.
#[test]
fn a_real_metastore_answers_calls_and_raises_its_declared_exceptions() {
    let Some(address) = address() else {
        return;
    };
    let mut connection =
        Connection::connect(&address, Duration::from_secs(10)).expect("connect to the metastore");
    let databases = connection.call("get_all_databases", vec![]).unwrap();
    let names: Vec<&str> = databases
        .elements()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(names.contains(&"default"), "{names:?}");

    let default = connection
        .call("get_database", vec![(1, Value::string("default"))])
        .unwrap();
    assert_eq!(default.field(1).and_then(Value::as_str), Some("default"));
    assert!(
        default
            .field(3)
            .and_then(Value::as_str)
            .is_some_and(|l| !l.is_empty()),
        "a location: {default:?}"
    );

    let missing = connection
        .call(
            "get_database",
            vec![(1, Value::string("no_such_database_here"))],
        )
        .unwrap_err();
    assert!(
        matches!(&missing, CallError::Declared { field: 1, message } if message.contains("no_such_database_here")),
        "NoSuchObjectException: {missing:?}"
    );

    let unknown = connection.call("no_such_method", vec![]).unwrap_err();
    assert!(
        matches!(unknown, CallError::Application { .. }),
        "{unknown:?}"
    );
    let after = connection.call("get_all_databases", vec![]).unwrap();
    assert_eq!(after, databases, "the connection is still usable");
}
