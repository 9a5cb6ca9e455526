//! `kefu import`, `kefu migrate`, `kefu reinspect`: the database commands.

use std::io::{self, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use kefu_engine::{Conversation, Inspection};
use kefu_store::{ImportItem, Store, DEFAULT_DATABASE_URL};

use crate::pipeline::{self, Work};
use crate::{load_inspector_with_source, EXIT_UNUSABLE};

/// Worker batches (of up to 512 conversations) queued for the writer.
const WRITER_QUEUE: usize = 2;

/// Where the database is.
#[derive(clap::Args)]
pub(crate) struct DatabaseArgs {
    /// Database URL: sqlite://FILE or postgres://USER@HOST/DB.
    /// Default: $KEFU_DATABASE_URL, else sqlite://kefu.db.
    #[arg(long)]
    database: Option<String>,
}

impl DatabaseArgs {
    /// The URL to use: flag, environment, default.
    pub(crate) fn url(&self) -> String {
        self.database
            .clone()
            .or_else(|| {
                std::env::var("KEFU_DATABASE_URL")
                    .ok()
                    .filter(|u| !u.is_empty())
            })
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string())
    }
}

#[derive(clap::Args)]
pub(crate) struct ImportArgs {
    /// Conversation files (JSONL or a JSON array), directories, or `-`.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    #[command(flatten)]
    db: DatabaseArgs,
    /// Rule pack (TOML). Default: the built-in zh-CN pack.
    #[arg(long)]
    pack: Option<PathBuf>,
    /// Worker threads. Default: all cores.
    #[arg(long, short)]
    jobs: Option<usize>,
    /// How long each write transaction may hold the database, in
    /// milliseconds (1–10000). Interactive writers (reviews, complaints) wait
    /// up to about this long while the import runs; a first bulk load that
    /// nobody works beside imports faster with 1000.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    slice_ms: u64,
    /// Build the full-text search index for the imported transcripts before
    /// returning. By default (SQLite) they are queued, which keeps the
    /// import several times faster: `kefu serve` indexes the queue in the
    /// background, and search finds queued transcripts meanwhile (by a
    /// slower substring test). PostgreSQL always indexes as it imports.
    #[arg(long)]
    index_now: bool,
    #[command(flatten)]
    input: crate::formats::InputArgs,
    #[command(flatten)]
    defaults: crate::defaults::DefaultsArgs,
}

#[derive(clap::Args)]
pub(crate) struct ReinspectArgs {
    #[command(flatten)]
    db: DatabaseArgs,
    /// Rule pack (TOML). Default: the built-in zh-CN pack.
    #[arg(long)]
    pack: Option<PathBuf>,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Keeps owned copies of conversations and results for the store.
struct Collect;

impl Work for Collect {
    type Output = Vec<ImportItem>;
    fn record(&self, raw: &str, conv: &Conversation<'_>, ins: Inspection, out: &mut Self::Output) {
        out.push(ImportItem::new(conv, Some(raw), ins));
    }
}

pub(crate) fn migrate(args: DatabaseArgs) -> anyhow::Result<ExitCode> {
    let url = args.url();
    runtime()?.block_on(async {
        let store = Store::connect(&url).await?;
        store.migrate().await?;
        let indexed = store.reindex_missing().await?;
        println!(
            "{}: migrations applied; {indexed} conversations added to the search index",
            redact(&url)
        );
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let defaults = match args.defaults.compile() {
        Ok(d) => Arc::new(d),
        Err(e) => {
            eprintln!("kefu: {e:#}");
            return Ok(ExitCode::from(EXIT_UNUSABLE));
        }
    };
    let (inspector, source) = match load_inspector_with_source(args.pack.as_deref()) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(EXIT_UNUSABLE));
        }
    };
    let url = args.db.url();
    let rt = runtime()?;
    let pack_given = args.pack.is_some();
    let (store, version, inspector) = rt.block_on(async {
        let store = Store::open_for_batch(&url)
            .await?
            .with_slice_target(std::time::Duration::from_millis(args.slice_ms));
        // Without --pack, conversations are judged by the pack activated in
        // the dashboard, like those posted to the API.
        if !pack_given {
            if let Some(id) = store.active_pack().await? {
                if let Some(text) = store.pack_source(id).await? {
                    let active = crate::compile_pack(&text)?;
                    let version = store
                        .register_pack(&active.pack().meta.id, &active.pack().meta.version, &text)
                        .await?;
                    return anyhow::Ok((store, version, active));
                }
            }
        }
        let version = store
            .register_pack(
                &inspector.pack().meta.id,
                &inspector.pack().meta.version,
                &source,
            )
            .await?;
        anyhow::Ok((store, version, inspector))
    })?;
    let meta = inspector.pack().meta.clone();
    let mut errors = Vec::new();
    let inputs = pipeline::expand_inputs(&args.inputs, args.input.from.format(), &mut errors);
    for e in &errors {
        eprintln!("{e}");
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let opts = pipeline::RunOptions {
        import: args.input.options(),
        format: kefu_formats::report::OutputFormat::Jsonl,
        jobs,
        progress: io::stderr().is_terminal(),
        echo_errors: true,
        defaults,
    };
    let mut missing = crate::defaults::Missing::default();
    // The workers' batches stream to one writer task on the runtime, which
    // commits them in time-bounded slices (`Importer`), so reading,
    // inspecting and writing overlap. The channel holds a few batches and
    // the writer at most one slice: memory stays bounded.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<ImportItem>>(WRITER_QUEUE);
    let mut importer = store.importer(version.id);
    let writer = rt.spawn(async move {
        while let Some(items) = rx.recv().await {
            importer.push(items).await?;
        }
        importer.finish().await
    });
    let run = pipeline::run_with(&inputs, Arc::new(inspector), &Collect, &opts, |items| {
        for i in &items {
            missing.count(i.agent_id.is_some(), i.started_at.is_some());
        }
        tx.blocking_send(items)
            .map_err(|_| io::Error::other("the database writer stopped"))
    });
    drop(tx);
    // The writer's own error says more than "the writer stopped".
    let stored = rt
        .block_on(writer)
        .context("the database writer panicked")?
        .context("storing conversations")?;
    let mut outcome = run?;
    // Bring the report rollups up to date now, so that the first report
    // after an import does not pay for it.
    rt.block_on(store.refresh_rollups())
        .context("refreshing report rollups")?;
    let indexed = if args.index_now {
        Some(
            rt.block_on(store.index_backlog())
                .context("indexing transcripts for search")?,
        )
    } else {
        None
    };
    let queued = rt
        .block_on(store.search_backlog())
        .context("counting transcripts queued for search")?;
    rt.block_on(store.close());
    errors.extend(std::mem::take(&mut outcome.errors));
    println!(
        "{}: {} conversations stored, {} already there, {} unreadable records, \
         {} identical duplicates, {} conflicting duplicates (pack {} {})",
        redact(&url),
        stored.inserted,
        stored.skipped,
        errors.len(),
        outcome.duplicates.identical,
        outcome.duplicates.conflict_count,
        meta.id,
        meta.version
    );
    if let Some(n) = indexed {
        println!("{n} transcripts added to the search index");
    }
    if queued > 0 {
        println!(
            "{queued} transcripts queued for the search index: `kefu serve` indexes them in the \
             background (search finds them meanwhile, more slowly), or import with --index-now"
        );
    }
    for w in missing.warnings() {
        eprintln!("{w}");
    }
    if let Some(code) = pipeline::report_duplicates_and_emptiness(&outcome, errors.len()) {
        return Ok(code);
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn reinspect(args: ReinspectArgs) -> anyhow::Result<ExitCode> {
    let (inspector, source) = match load_inspector_with_source(args.pack.as_deref()) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(EXIT_UNUSABLE));
        }
    };
    let url = args.db.url();
    let meta = inspector.pack().meta.clone();
    let outcome = runtime()?.block_on(async {
        // Reads every stored record: through the page cache, not a map
        // that would count the whole file towards RSS.
        let store = Store::open_for_batch(&url).await?;
        let version = store
            .register_pack(&meta.id, &meta.version, &source)
            .await?;
        let outcome = store.reinspect(&inspector, version.id, 1000).await?;
        store.refresh_rollups().await?;
        store.close().await;
        anyhow::Ok(outcome)
    })?;
    println!(
        "{}: {} conversations re-inspected with {} {}, {} already current, {} unreadable, \
         {} kept (reviewed or appealed: a human judgement stays current)",
        redact(&url),
        outcome.reinspected,
        meta.id,
        meta.version,
        outcome.unchanged,
        outcome.unreadable,
        outcome.kept
    );
    Ok(ExitCode::SUCCESS)
}

/// The URL without its password, for messages.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}
