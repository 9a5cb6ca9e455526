//! `kefu feedback themes|age`: information feedback (信息反馈) batches from
//! the command line, as the administrator `cli`, through
//! [`FeedbackService`] (the same rules as the API and the dashboard).

use std::process::ExitCode;

use kefu_service::auth::{Principal, Role};
use kefu_service::feedback::FeedbackService;
use kefu_service::period::Period;
use kefu_store::Store;

use crate::serve::runtime;
use crate::store::DatabaseArgs;

#[derive(clap::Subcommand)]
pub(crate) enum FeedbackCommand {
    /// Themes of a period's feedback and customer turns: keywords, counts,
    /// trend against the previous period (rising themes marked ↑) and
    /// verbatims.
    Themes {
        /// The period: 2026-11, 2026-Q4, 2026-W44, 2026-11-05 …
        #[arg(long)]
        period: String,
        /// Verbatims printed per theme.
        #[arg(long, default_value_t = 3)]
        verbatims: usize,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Run the ageing rules once: flag and escalate records left untouched
    /// in a state longer than its rule (for cron; several nodes may run it).
    Age {
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

fn admin() -> Principal {
    Principal {
        user_id: "cli".into(),
        role: Role::Admin,
        team: None,
    }
}

pub(crate) fn run(cmd: FeedbackCommand) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    rt.block_on(async {
        match cmd {
            FeedbackCommand::Themes {
                period,
                verbatims,
                json,
                db,
            } => {
                let period: Period = period.parse()?;
                let store = Store::open(&db.url()).await?;
                let view = FeedbackService::new(store)
                    .themes(&admin(), &period, verbatims)
                    .await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&view)?);
                    return Ok(ExitCode::SUCCESS);
                }
                println!(
                    "主题分析 {}（对比 {}）：{} 条文本，上期 {} 条，未归类 {} 条",
                    view.period,
                    view.previous_period,
                    view.texts,
                    view.previous_texts,
                    view.unthemed
                );
                for t in &view.themes {
                    println!(
                        "{:>2}. {}{}  {} 条 ({:.1}%)，上期 {} 条 ({:.1}%)  关键词: {}",
                        t.rank,
                        t.label,
                        if t.rising { " ↑" } else { "" },
                        t.count,
                        t.share,
                        t.previous,
                        t.previous_share,
                        t.keywords.join("、")
                    );
                    for v in &t.verbatims {
                        let at = match v.turn_index {
                            Some(i) => format!("{}#{}", v.id, i),
                            None => v.id.clone(),
                        };
                        println!("      「{}」 — {at}", v.text);
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
            FeedbackCommand::Age { db } => {
                let store = Store::open(&db.url()).await?;
                let out = FeedbackService::new(store)
                    .age(kefu_store::now_ms())
                    .await?;
                for (id, state) in &out.escalated {
                    println!("escalated {id} ({}, {state})", state.label_zh());
                }
                println!("{} escalated", out.escalated.len());
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}
