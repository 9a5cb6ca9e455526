//! `kefu complaints import`: complaints from a CSV/TSV/XLSX file, filed as
//! the administrator `cli` through `ComplaintService::import_records` (the
//! same checks and SLA clocks as the API; idempotent by id).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use kefu_formats::import::complaints as file;
use kefu_service::complaint::{Actor, ActorRole, ComplaintService};
use kefu_store::Store;

use crate::serve::runtime;
use crate::store::DatabaseArgs;

/// Exit code when some rows could not be imported.
const EXIT_ROWS_REJECTED: u8 = 2;

#[derive(clap::Subcommand)]
pub(crate) enum ComplaintsCommand {
    /// Import complaints from CSV/TSV (UTF-8, GBK, UTF-16) or XLSX with Chinese
    /// or English headers (投诉编号, 客户, 电话, 渠道, 类别, 严重程度, 内容,
    /// 提交时间, 坐席 …); each row is filed like `POST /api/v1/complaints`,
    /// its SLA clocks starting at 提交时间. Bad rows are reported with their
    /// line and skipped; a row whose complaint is stored is left alone.
    Import {
        /// The file.
        file: PathBuf,
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

/// Runs a `kefu complaints` command.
pub(crate) fn run(cmd: ComplaintsCommand) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    match cmd {
        ComplaintsCommand::Import { file: path, db } => rt.block_on(async {
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            let is_xlsx = path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
            let read = if is_xlsx {
                file::read_xlsx(&bytes)
            } else {
                file::read_csv(&bytes)
            };
            let store = Store::open(&db.url()).await?;
            let outcome = ComplaintService::new(store.clone())
                .import_records(
                    &read,
                    &Actor::new("cli", ActorRole::Admin),
                    chrono::Utc::now(),
                )
                .await;
            store.close().await;
            let outcome = outcome?;
            for (line, reason) in &outcome.errors {
                eprintln!("{}:{line}: {reason}", path.display());
            }
            println!(
                "{}: {} filed, {} already stored, {} rejected ({})",
                path.display(),
                outcome.filed,
                outcome.skipped,
                outcome.errors.len(),
                read.encoding
            );
            Ok(if outcome.errors.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_ROWS_REJECTED)
            })
        }),
    }
}
