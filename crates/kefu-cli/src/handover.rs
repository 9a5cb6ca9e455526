//! `kefu handover escalate`: one escalation scan of shift handovers
//! (交接班) from the command line — urgent items not acknowledged in time
//! escalate to the supervisor, once each, through [`HandoverService`] (the
//! same rule as the scan `kefu serve` runs every minute).

use std::process::ExitCode;

use kefu_service::handover::HandoverService;
use kefu_store::Store;

use crate::serve::runtime;
use crate::store::DatabaseArgs;

#[derive(clap::Subcommand)]
pub(crate) enum HandoverCommand {
    /// Escalate urgent handover items not acknowledged within the set
    /// minutes of submission, once (for cron; several nodes may run it).
    Escalate {
        /// The name recorded as the escalating node.
        #[arg(long, default_value = "cli")]
        node: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

pub(crate) fn run(cmd: HandoverCommand) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    rt.block_on(async {
        match cmd {
            HandoverCommand::Escalate { node, db } => {
                let store = Store::open(&db.url()).await?;
                let items = HandoverService::new(store)
                    .escalate_overdue(kefu_store::now_ms(), &node)
                    .await?;
                for i in &items {
                    println!(
                        "escalated {} item #{} ({}): {}",
                        i.handover_id, i.item_id, i.team, i.title
                    );
                }
                println!("{} escalated", items.len());
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}
