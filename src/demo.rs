//! The demo dataset: TPC-H tables generated on first start (through the `tpchgen` crates) as
//! Parquet under the warehouse directory, and registered in the demo schema on every start.
//!
//! Generation writes into a temporary directory and renames it into place when every table
//! is complete, so an interrupted first start leaves nothing half-written behind.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;
use tpchgen::generators::{
    CustomerGenerator, LineItemGenerator, NationGenerator, OrderGenerator, PartGenerator,
    PartSuppGenerator, RegionGenerator, SupplierGenerator,
};
use tpchgen_arrow::{
    CustomerArrow, LineItemArrow, NationArrow, OrderArrow, PartArrow, PartSuppArrow, RegionArrow,
    SupplierArrow,
};

use crate::config::{DemoConfig, FileFormat, TableConfig};
use crate::error::{Error, ErrorKind, Result};

pub const TABLES: [&str; 8] = [
    "nation", "region", "part", "supplier", "partsupp", "customer", "orders", "lineitem",
];

/// Where the demo data for this scale factor lives.
pub fn demo_dir(warehouse: &Path, demo: &DemoConfig) -> PathBuf {
    let scale = format!("{}", demo.scale_factor).replace('.', "_");
    warehouse.join("demo").join(format!("tpch-sf{scale}"))
}

/// Generates the demo data unless it is already there; returns its table entries.
pub async fn ensure_demo(warehouse: &Path, demo: &DemoConfig) -> Result<Vec<TableConfig>> {
    let dir = demo_dir(warehouse, demo);
    if !dir.join("_SUCCESS").exists() {
        let started = std::time::Instant::now();
        tracing::info!(scale_factor = demo.scale_factor, dir = %dir.display(), "generating the TPC-H demo data (first start only)");
        let (dir_for_task, scale) = (dir.clone(), demo.scale_factor);
        tokio::task::spawn_blocking(move || generate(&dir_for_task, scale))
            .await
            .map_err(|e| Error::internal(format!("demo generation stopped: {e}")))??;
        tracing::info!(seconds = started.elapsed().as_secs_f64(), "demo data ready");
    }
    Ok(TABLES
        .iter()
        .map(|table| TableConfig {
            name: format!("{}.{table}", demo.schema),
            path: dir.join(table),
            format: Some(FileFormat::Parquet),
            header: true,
            delimiter: ",".into(),
        })
        .collect())
}

fn generate(dir: &Path, scale: f64) -> Result<()> {
    let storage = |e: std::io::Error| {
        Error::new(
            ErrorKind::Storage,
            format!("cannot write the demo data: {e}"),
        )
    };
    let parent = dir
        .parent()
        .ok_or_else(|| Error::internal("demo directory has no parent"))?;
    std::fs::create_dir_all(parent).map_err(storage)?;
    let staging = parent.join(format!(".staging-{}", std::process::id()));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(storage)?;
    }
    for table in TABLES {
        let table_dir = staging.join(table);
        std::fs::create_dir_all(&table_dir).map_err(storage)?;
        let file = table_dir.join("part-0.parquet");
        write_parquet(&file, batches(table, scale))?;
    }
    File::create(staging.join("_SUCCESS")).map_err(storage)?;
    if dir.exists() && !dir.join("_SUCCESS").exists() {
        std::fs::remove_dir_all(dir).map_err(storage)?;
    }
    match std::fs::rename(&staging, dir) {
        Ok(()) => Ok(()),
        // Another process sharing the warehouse finished first: keep its data.
        Err(_) if dir.join("_SUCCESS").exists() => {
            let _ = std::fs::remove_dir_all(&staging);
            Ok(())
        }
        Err(e) => Err(storage(e)),
    }
}

type Batches = Box<dyn Iterator<Item = std::result::Result<RecordBatch, ArrowError>>>;

fn batches(table: &str, scale: f64) -> Batches {
    const BATCH: usize = 8192;
    match table {
        "nation" => {
            Box::new(NationArrow::new(NationGenerator::new(scale, 1, 1)).with_batch_size(BATCH))
        }
        "region" => {
            Box::new(RegionArrow::new(RegionGenerator::new(scale, 1, 1)).with_batch_size(BATCH))
        }
        "part" => Box::new(PartArrow::new(PartGenerator::new(scale, 1, 1)).with_batch_size(BATCH)),
        "supplier" => {
            Box::new(SupplierArrow::new(SupplierGenerator::new(scale, 1, 1)).with_batch_size(BATCH))
        }
        "partsupp" => {
            Box::new(PartSuppArrow::new(PartSuppGenerator::new(scale, 1, 1)).with_batch_size(BATCH))
        }
        "customer" => {
            Box::new(CustomerArrow::new(CustomerGenerator::new(scale, 1, 1)).with_batch_size(BATCH))
        }
        "orders" => {
            Box::new(OrderArrow::new(OrderGenerator::new(scale, 1, 1)).with_batch_size(BATCH))
        }
        _ => {
            Box::new(LineItemArrow::new(LineItemGenerator::new(scale, 1, 1)).with_batch_size(BATCH))
        }
    }
}

fn write_parquet(path: &Path, mut batches: Batches) -> Result<()> {
    let first = match batches.next() {
        Some(batch) => batch?,
        None => {
            return Err(Error::internal(format!(
                "no rows generated for {}",
                path.display()
            )));
        }
    };
    let file = File::create(path).map_err(|e| {
        Error::new(
            ErrorKind::Storage,
            format!("cannot create {}: {e}", path.display()),
        )
    })?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let parquet = |e: datafusion::parquet::errors::ParquetError| {
        Error::new(ErrorKind::Storage, e.to_string())
    };
    let mut writer = ArrowWriter::try_new(file, Arc::clone(&first.schema()), Some(properties))
        .map_err(parquet)?;
    writer.write(&first).map_err(parquet)?;
    for batch in batches {
        writer.write(&batch?).map_err(parquet)?;
    }
    writer.close().map_err(parquet)?;
    Ok(())
}
