//! `kefu notify deliver|email`: notification delivery from the command
//! line (cron-style, alongside or instead of the worker in `kefu serve`),
//! and the flags and environment both read.

use std::process::ExitCode;

use kefu_service::auth::{Principal, Role};
use kefu_service::notify::{Deliverer, DeliveryConfig, NotifyService, SmtpConfig};
use kefu_store::Store;

use crate::serve::runtime;
use crate::store::DatabaseArgs;

/// How notifications are delivered: shared by `kefu serve` and
/// `kefu notify deliver`.
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct NotifyArgs {
    /// SMTP relay for e-mail notifications: `smtp://[user:password@]host[:port]`
    /// (plain SMTP, port 25 by default). Default: $KEFU_SMTP_URL; unset: no
    /// e-mail.
    #[arg(long, value_name = "URL")]
    pub(crate) smtp_url: Option<String>,
    /// Sender address of e-mail notifications. Default: $KEFU_SMTP_FROM,
    /// else kefu@localhost.
    #[arg(long, value_name = "ADDRESS")]
    pub(crate) smtp_from: Option<String>,
    /// The dashboard's public address (`https://kefu.example.com`), for
    /// links in e-mails and webhooks. Default: $KEFU_PUBLIC_URL; unset:
    /// links are paths.
    #[arg(long, value_name = "URL")]
    pub(crate) public_url: Option<String>,
}

fn flag_or_var(flag: &Option<String>, var: &str) -> Option<String> {
    flag.clone()
        .or_else(|| std::env::var(var).ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

impl NotifyArgs {
    /// The delivery settings for node `node`.
    pub(crate) fn config(&self, node: &str) -> anyhow::Result<DeliveryConfig> {
        let mut config = DeliveryConfig::new(node);
        if let Some(url) = flag_or_var(&self.smtp_url, "KEFU_SMTP_URL") {
            let from = flag_or_var(&self.smtp_from, "KEFU_SMTP_FROM")
                .unwrap_or_else(|| "kefu@localhost".to_string());
            config.smtp = Some(SmtpConfig::from_url(&url, &from)?);
        }
        config.public_url = flag_or_var(&self.public_url, "KEFU_PUBLIC_URL");
        Ok(config)
    }
}

#[derive(clap::Subcommand)]
pub(crate) enum NotifyCommand {
    /// Record revisits and follow-ups that fell due, then deliver pending
    /// notifications once (for cron; safe beside running nodes).
    Deliver {
        /// Run once and exit (the only mode: `kefu serve` runs the loop).
        #[arg(long)]
        once: bool,
        #[command(flatten)]
        notify: NotifyArgs,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Set (or, without --email, clear) a user's e-mail address.
    Email {
        /// The user's login name.
        user: String,
        /// The address.
        #[arg(long)]
        email: Option<String>,
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

pub(crate) fn run(cmd: NotifyCommand) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    rt.block_on(async {
        match cmd {
            NotifyCommand::Deliver { once: _, notify, db } => {
                let store = Store::open(&db.url()).await?;
                let node = format!("cli-{}", std::process::id());
                let due = NotifyService::new(store.clone())
                    .scan_due(kefu_store::now_ms())
                    .await?;
                let deliverer = Deliverer::new(store.clone(), notify.config(&node)?)?;
                let report = deliverer.run_once(kefu_store::now_ms()).await?;
                println!(
                    "due: {} revisits, {} follow-ups; expanded {}, sent {}, to retry {}, given up {}",
                    due.revisits,
                    due.follow_ups,
                    report.expanded,
                    report.sent,
                    report.retried,
                    report.dead
                );
                store.close().await;
                Ok(ExitCode::SUCCESS)
            }
            NotifyCommand::Email { user, email, db } => {
                let store = Store::open(&db.url()).await?;
                NotifyService::new(store.clone())
                    .set_email(&admin(), &user, email.as_deref())
                    .await?;
                store.close().await;
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}
