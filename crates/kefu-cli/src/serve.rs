//! `kefu serve` and `kefu user …`.

use std::io::{self, BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use kefu_server::AppState;
use kefu_service::auth::{self, NewUser, Role};
use kefu_store::Store;

use crate::store::DatabaseArgs;
use crate::{load_inspector_with_source, EXIT_UNUSABLE};

#[derive(clap::Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    db: DatabaseArgs,
    /// Address to listen on. Default: $KEFU_LISTEN, else 127.0.0.1:8080.
    #[arg(long)]
    listen: Option<String>,
    /// Rule pack (TOML) for conversations posted to the API. Default: built-in zh-CN.
    #[arg(long)]
    pack: Option<PathBuf>,
    /// kefu runs behind a reverse proxy: believe its X-Forwarded-For (client
    /// address, for login throttling) and X-Forwarded-Proto (HTTPS, for
    /// Secure cookies). Also $KEFU_TRUST_PROXY=1. Off by default: any client
    /// could send those headers.
    #[arg(long)]
    trust_proxy: bool,
    /// Most connections open at once; more wait in the kernel's queue.
    /// Default: $KEFU_MAX_CONNECTIONS, else 4096.
    #[arg(long)]
    max_connections: Option<usize>,
    /// Seconds a client has to send a complete request head (also the idle
    /// time of a kept-alive connection). Default: $KEFU_HEADER_TIMEOUT,
    /// else 10.
    #[arg(long)]
    header_timeout: Option<u64>,
    /// Seconds a client has to send a whole request body; then 408.
    /// Default: $KEFU_BODY_TIMEOUT, else 30.
    #[arg(long)]
    body_timeout: Option<u64>,
    /// Seconds between runs that record complaint activity as customer
    /// contacts (resetting their contact cadence). Safe on several nodes
    /// sharing one database. Default: $KEFU_CUSTOMER_SYNC, else 300.
    #[arg(long)]
    customer_sync: Option<u64>,
    /// Largest file uploaded from the dashboard (会话导入), in bytes; it is
    /// spooled to a temporary file, not held in memory. Large uploads also
    /// need a --body-timeout long enough to send them.
    /// Default: $KEFU_MAX_UPLOAD_SIZE, else 1073741824 (1 GiB).
    #[arg(long, value_name = "BYTES")]
    max_upload_size: Option<u64>,
    /// Seconds between notification delivery runs (inbox, e-mail,
    /// webhooks; revisits and follow-ups due). Safe on several nodes
    /// sharing one database. Default: $KEFU_NOTIFY_INTERVAL, else 15.
    #[arg(long, value_name = "SECONDS")]
    notify_interval: Option<u64>,
    #[command(flatten)]
    notify: crate::notify::NotifyArgs,
}

/// A flag, else the environment variable `var`, else `None`; a variable
/// that is not a positive number is an error, not silently ignored.
fn flag_or_env<T: std::str::FromStr + PartialOrd + From<u8>>(
    flag: Option<T>,
    var: &str,
) -> anyhow::Result<Option<T>> {
    let value = match flag {
        Some(v) => Some(v),
        None => match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Some(
                v.trim()
                    .parse::<T>()
                    .map_err(|_| anyhow::anyhow!("{var}={v} is not a whole number"))?,
            ),
            _ => None,
        },
    };
    if value.as_ref().is_some_and(|v| *v < T::from(1)) {
        anyhow::bail!("{var} (or its flag) must be at least 1");
    }
    Ok(value)
}

/// The connection limits of `kefu serve`, from flags, environment and
/// defaults.
fn limits(args: &ServeArgs) -> anyhow::Result<kefu_server::Limits> {
    let mut limits = kefu_server::Limits::default();
    if let Some(n) = flag_or_env(args.max_connections, "KEFU_MAX_CONNECTIONS")? {
        limits.max_connections = n;
    }
    if let Some(s) = flag_or_env(args.header_timeout, "KEFU_HEADER_TIMEOUT")? {
        limits.header_read_timeout = std::time::Duration::from_secs(s);
    }
    if let Some(s) = flag_or_env(args.body_timeout, "KEFU_BODY_TIMEOUT")? {
        limits.body_timeout = std::time::Duration::from_secs(s);
    }
    Ok(limits)
}

#[derive(clap::Subcommand)]
pub(crate) enum UserCommand {
    /// Add a user. The password is read from $KEFU_PASSWORD or standard input.
    Add {
        /// Login name (agents: their agent id, e.g. a-07).
        id: String,
        /// agent, inspector, supervisor or admin.
        #[arg(long, default_value = "agent")]
        role: String,
        /// Display name.
        #[arg(long, default_value = "")]
        name: String,
        /// Team.
        #[arg(long)]
        team: Option<String>,
        /// Create without a password (a service account that uses API tokens).
        #[arg(long)]
        no_password: bool,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Create an API token for a user; it is printed once.
    Token {
        /// The user.
        id: String,
        /// What the token is for.
        #[arg(long, default_value = "api")]
        name: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// List users.
    List {
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Set a user's password (read from $KEFU_PASSWORD or standard input)
    /// under the password policy; ends the user's sessions.
    Passwd {
        /// The user.
        id: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Give a user another role (agent, inspector, supervisor, admin); ends
    /// the user's sessions.
    Role {
        /// The user.
        id: String,
        /// The new role.
        role: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Revoke one of a user's API tokens (ids as listed by the dashboard).
    RevokeToken {
        /// The user.
        id: String,
        /// The token's id.
        token: i64,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// End every session of a user.
    LogoutAll {
        /// The user.
        id: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Deactivate a user: password, sessions and tokens stop working.
    Deactivate {
        /// The user.
        id: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

pub(crate) fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let (inspector, source) = match load_inspector_with_source(args.pack.as_deref()) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(EXIT_UNUSABLE));
        }
    };
    let pack_given = args.pack.is_some();
    let limits = match limits(&args) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(EXIT_UNUSABLE));
        }
    };
    let customer_sync = match flag_or_env(args.customer_sync, "KEFU_CUSTOMER_SYNC") {
        Ok(s) => s.map_or(
            kefu_server::CUSTOMER_SYNC_DEFAULT,
            std::time::Duration::from_secs,
        ),
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(EXIT_UNUSABLE));
        }
    };
    let notify_every = match flag_or_env(args.notify_interval, "KEFU_NOTIFY_INTERVAL") {
        Ok(s) => s.map_or(kefu_server::NOTIFY_DEFAULT, std::time::Duration::from_secs),
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(EXIT_UNUSABLE));
        }
    };
    let notify_node = format!(
        "{}-{}",
        std::env::var("HOSTNAME").unwrap_or_else(|_| "kefu".into()),
        std::process::id()
    );
    let notify_config = match args.notify.config(&notify_node) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(EXIT_UNUSABLE));
        }
    };
    let listen = args
        .listen
        .or_else(|| std::env::var("KEFU_LISTEN").ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let url = args.db.url();
    runtime()?.block_on(async move {
        // Its WAL is checkpointed by `checkpointer` below, not by requests.
        let store = Store::open_for_server(&url).await?;
        let version = store
            .register_pack(
                &inspector.pack().meta.id,
                &inspector.pack().meta.version,
                &source,
            )
            .await?;
        // `--pack` makes its pack the active one for every node; without it
        // the pack last activated (in the dashboard) stays active, and the
        // built-in pack is used when none ever was.
        let (inspector, version_id) = if pack_given {
            store
                .set_active_pack(version.id, "kefu serve --pack")
                .await?;
            (inspector, version.id)
        } else {
            match store.active_pack().await? {
                Some(id) if id != version.id => match store.pack_source(id).await? {
                    Some(text) => (crate::compile_pack(&text)?, id),
                    None => (inspector, version.id),
                },
                _ => (inspector, version.id),
            }
        };
        let meta = inspector.pack().meta.clone();
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        eprintln!(
            "kefu serving on http://{} (database {}, pack {} {})",
            listener.local_addr()?,
            crate::store::redact(&url),
            meta.id,
            meta.version
        );
        kefu_server::proxy::set_trust_proxy(
            args.trust_proxy
                || std::env::var("KEFU_TRUST_PROXY").is_ok_and(|v| v == "1" || v == "true"),
        );
        let max_upload = flag_or_env(args.max_upload_size, "KEFU_MAX_UPLOAD_SIZE")?
            .unwrap_or(kefu_server::DEFAULT_MAX_UPLOAD_BYTES);
        let state = AppState::new(store, inspector, version_id).with_max_upload_bytes(max_upload);
        let node = format!(
            "{}-{}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "kefu".into()),
            std::process::id()
        );
        let handover_escalation = kefu_server::spawn_handover_escalation(
            state.store.clone(),
            std::time::Duration::from_secs(60),
            node.clone(),
        );
        let scanner =
            kefu_server::spawn_sla_scanner(&state, std::time::Duration::from_secs(60), node);
        let customer_sync = kefu_server::spawn_customer_sync(state.store.clone(), customer_sync);
        let feedback_ageing = kefu_server::spawn_feedback_ageing(
            state.store.clone(),
            kefu_server::FEEDBACK_AGEING_EVERY,
        );
        let notifier =
            kefu_server::spawn_notifier(state.store.clone(), notify_every, notify_config)?;
        // Transcripts imports queue, and conversations stored before
        // full-text search existed, are indexed in the background.
        let checkpointer =
            kefu_server::spawn_checkpointer(state.store.clone(), kefu_server::CHECKPOINT_EVERY);
        let indexer = kefu_server::spawn_search_indexer(
            state.store.clone(),
            kefu_server::SEARCH_INDEXING_EVERY,
        );
        kefu_server::serve_with_limits(listener, state, limits, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
        scanner.abort();
        customer_sync.abort();
        feedback_ageing.abort();
        handover_escalation.abort();
        notifier.abort();
        indexer.abort();
        checkpointer.abort();
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn read_password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("KEFU_PASSWORD") {
        return Ok(p);
    }
    if io::stdin().is_terminal() {
        eprint!("password: ");
    }
    let mut line = String::new();
    io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

pub(crate) fn user(cmd: UserCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        UserCommand::Add {
            id,
            role,
            name,
            team,
            no_password,
            db,
        } => {
            let role: Role = role.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
            let password = if no_password {
                None
            } else {
                Some(read_password()?)
            };
            let url = db.url();
            let user = runtime()?.block_on(async {
                let store = Store::open(&url).await?;
                let user = auth::add_user(
                    &store,
                    NewUser {
                        id,
                        display_name: name,
                        role,
                        team,
                        password,
                    },
                )
                .await?;
                store.close().await;
                anyhow::Ok(user)
            })?;
            println!(
                "added {} ({}, {})",
                user.id,
                user.display_name,
                user.role.as_str()
            );
        }
        UserCommand::Token { id, name, db } => {
            let url = db.url();
            let token = runtime()?.block_on(async {
                let store = Store::open(&url).await?;
                let (token, _) = auth::create_api_token(
                    &store,
                    &id,
                    &name,
                    chrono::Utc::now().timestamp_millis(),
                )
                .await?;
                store.close().await;
                anyhow::Ok(token)
            })?;
            println!("{token}");
        }
        UserCommand::List { db } => {
            let url = db.url();
            let users = runtime()?.block_on(async {
                let store = Store::open(&url).await?;
                let users = auth::list_users(&store).await?;
                store.close().await;
                anyhow::Ok(users)
            })?;
            for u in users {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    u.id,
                    u.display_name,
                    u.role.as_str(),
                    u.team.unwrap_or_default(),
                    if u.active { "active" } else { "inactive" }
                );
            }
        }
        other => return crate::accounts::run(other),
    }
    Ok(ExitCode::SUCCESS)
}
