//! `kefu`: customer-service quality inspection from the command line.

mod accounts;
mod bench;
mod complaints;
mod customers;
mod defaults;
mod demo;
mod dupes;
mod feedback;
mod formats;
mod handover;
mod notify;
mod pipeline;
mod report;
mod rules;
mod serve;
mod store;

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use kefu_engine::{Inspector, RulePack};
use kefu_formats::export::XlsxReport;
use kefu_formats::report::{write_footer, write_header, OutputFormat};

// Inspection and import allocate many short-lived strings across threads;
// mimalloc handles that pattern markedly better than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit code for unusable input or pack.
const EXIT_UNUSABLE: u8 = 2;

#[derive(Parser)]
#[command(
    name = "kefu",
    version,
    about = "客服质检 — customer-service quality inspection"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Inspect conversations against a rule pack and report findings and scores.
    Inspect(InspectArgs),
    /// Work with rule packs.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Measure inspection throughput on generated conversations.
    Bench(bench::BenchArgs),
    /// Measure KPIs and star ratings for a month of generated conversations on SQLite.
    BenchKpi(bench::KpiBenchArgs),
    /// Inspect conversations and store them with their results (idempotent by id).
    Import(store::ImportArgs),
    /// Load an example month (10 agents × 60 conversations) to try the dashboard.
    Demo(demo::DemoArgs),
    /// Apply database migrations.
    Migrate(store::DatabaseArgs),
    /// Re-run a (changed) pack over stored conversations, keeping history.
    Reinspect(store::ReinspectArgs),
    /// Run the HTTP API (SQLite ./kefu.db by default).
    Serve(serve::ServeArgs),
    /// KPIs, star ratings, violations and assessment for a period.
    Report(report::ReportArgs),
    /// Customers: import/export (CSV, XLSX, GBK), list, show, grade, merge.
    Customers {
        #[command(subcommand)]
        command: customers::CustomersCommand,
    },
    /// Information feedback (信息反馈): theme analysis of a period, ageing.
    Feedback {
        #[command(subcommand)]
        command: feedback::FeedbackCommand,
    },
    /// Shift handover (交接班): escalate unacknowledged urgent items once.
    Handover {
        #[command(subcommand)]
        command: handover::HandoverCommand,
    },
    /// Notifications: deliver pending ones once (cron), users' e-mail.
    Notify {
        #[command(subcommand)]
        command: notify::NotifyCommand,
    },
    /// Complaints: import from CSV/TSV/XLSX (GBK too).
    Complaints {
        #[command(subcommand)]
        command: complaints::ComplaintsCommand,
    },
    /// Manage users and API tokens.
    User {
        #[command(subcommand)]
        command: serve::UserCommand,
    },
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Validate a pack; errors carry line numbers.
    Check {
        /// The pack file (TOML).
        pack: PathBuf,
    },
    /// Run a pack over example conversations that carry their expected findings.
    Test {
        /// The pack file (TOML); `default` for the built-in zh-CN pack.
        pack: PathBuf,
        /// Cases: native JSONL conversations with an `expect` member.
        cases: Vec<PathBuf>,
    },
    /// Print the built-in zh-CN pack, to copy and adapt.
    Default,
    /// List the rules of a pack (default: the built-in one).
    List {
        /// The pack file (TOML).
        pack: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Jsonl,
    Csv,
    Html,
    /// An Excel workbook (needs --out): conversations, findings, agents, rules, errors.
    Xlsx,
}

/// Language of headers in CSV and XLSX output.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Lang {
    /// 中文 (default).
    Zh,
    /// English.
    En,
}

impl From<Lang> for kefu_formats::export::Lang {
    fn from(l: Lang) -> Self {
        match l {
            Lang::Zh => kefu_formats::export::Lang::Zh,
            Lang::En => kefu_formats::export::Lang::En,
        }
    }
}

impl Format {
    /// The streaming writer for this format; `None` for the workbook, which
    /// is written by its own writer.
    fn stream(self) -> Option<OutputFormat> {
        match self {
            Format::Jsonl => Some(OutputFormat::Jsonl),
            Format::Csv => Some(OutputFormat::Csv),
            Format::Html => Some(OutputFormat::Html),
            Format::Xlsx => None,
        }
    }
}

#[derive(clap::Args)]
struct InspectArgs {
    /// Conversation files (JSONL or a JSON array), directories, or `-` for stdin.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Rule pack (TOML). Default: the built-in zh-CN pack.
    #[arg(long)]
    pack: Option<PathBuf>,
    /// Format of the per-conversation results.
    #[arg(long, value_enum, default_value = "jsonl")]
    format: Format,
    /// Language of CSV/XLSX headers.
    #[arg(long, value_enum, default_value = "zh")]
    lang: Lang,
    /// Where to write results. Default: stdout (the summary then goes to stderr).
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// Worker threads. Default: all cores.
    #[arg(long, short)]
    jobs: Option<usize>,
    /// Do not print the summary table.
    #[arg(long, short)]
    quiet: bool,
    #[command(flatten)]
    input: formats::InputArgs,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KEFU_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(args) => inspect(args),
        Command::Rules { command } => match command {
            RulesCommand::Check { pack } => rules::check(&pack),
            RulesCommand::Test { pack, cases } => rules::test(&pack, &cases),
            RulesCommand::Default => {
                print!("{}", kefu_engine::pack::DEFAULT_PACK_ZH_CN);
                Ok(ExitCode::SUCCESS)
            }
            RulesCommand::List { pack } => rules::list(pack.as_deref()),
        },
        Command::Bench(args) => bench::run(args),
        Command::BenchKpi(args) => bench::kpi(args),
        Command::Import(args) => store::import(args),
        Command::Demo(args) => demo::run(args),
        Command::Migrate(args) => store::migrate(args),
        Command::Reinspect(args) => store::reinspect(args),
        Command::Serve(args) => serve::serve(args),
        Command::Report(args) => report::report(args),
        Command::User { command } => serve::user(command),
        Command::Customers { command } => customers::run(command),
        Command::Feedback { command } => feedback::run(command),
        Command::Handover { command } => handover::run(command),
        Command::Notify { command } => notify::run(command),
        Command::Complaints { command } => complaints::run(command),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kefu: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Loads and compiles `--pack` or the built-in pack; a broken pack is
/// reported with lines.
pub fn load_inspector(path: Option<&std::path::Path>) -> Result<Inspector, String> {
    load_inspector_with_source(path).map(|(inspector, _)| inspector)
}

/// Compiles a stored pack text (the active pack from the database).
pub fn compile_pack(text: &str) -> anyhow::Result<Inspector> {
    let pack = RulePack::from_toml(text)
        .map_err(|e| anyhow::anyhow!("the active rule pack in the database is invalid: {e}"))?;
    Inspector::new(pack)
        .map_err(|e| anyhow::anyhow!("the active rule pack cannot be compiled: {e}"))
}

/// Like [`load_inspector`], also returning the pack's text (stored with
/// results so history shows which version judged).
pub fn load_inspector_with_source(
    path: Option<&std::path::Path>,
) -> Result<(Inspector, String), String> {
    let (source, name) = match path {
        None => (
            kefu_engine::pack::DEFAULT_PACK_ZH_CN.to_string(),
            "built-in pack".to_string(),
        ),
        Some(p) if p.as_os_str() == "default" => (
            kefu_engine::pack::DEFAULT_PACK_ZH_CN.to_string(),
            "built-in pack".to_string(),
        ),
        Some(p) => (
            std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?,
            p.display().to_string(),
        ),
    };
    let pack = RulePack::from_toml(&source).map_err(|e| {
        e.issues
            .iter()
            .map(|i| format!("{name}:{}: {}", i.line, i.message))
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    let inspector = Inspector::new(pack).map_err(|e| format!("{name}: {e}"))?;
    Ok((inspector, source))
}

fn inspect(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let inspector = match load_inspector(args.pack.as_deref()) {
        Ok(i) => Arc::new(i),
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(EXIT_UNUSABLE));
        }
    };
    let mut errors = Vec::new();
    let inputs = pipeline::expand_inputs(&args.inputs, args.input.from.format(), &mut errors);
    for e in &errors {
        eprintln!("{e}");
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let to_stdout = args.out.is_none();
    let opts = pipeline::RunOptions {
        import: args.input.options(),
        format: OutputFormat::Jsonl,
        jobs,
        progress: io::stderr().is_terminal(),
        echo_errors: true,
        defaults: Default::default(),
    };
    let outcome = match args.format.stream() {
        None => {
            let Some(path) = &args.out else {
                eprintln!("kefu: --format xlsx writes a workbook: give it a file with --out");
                return Ok(ExitCode::from(EXIT_UNUSABLE));
            };
            let mut report = XlsxReport::new(path, args.lang.into())?;
            let mut outcome = pipeline::run_with(
                &inputs,
                inspector.clone(),
                &pipeline::Results,
                &opts,
                |results| {
                    for r in &results {
                        report.add_conversation(r).map_err(io::Error::other)?;
                    }
                    Ok(())
                },
            )?;
            errors.append(&mut outcome.errors);
            let rows: Vec<(String, String)> = errors
                .iter()
                .map(|e| (format!("{}:{}", e.file, e.line), e.reason.clone()))
                .collect();
            report.finish(&outcome.summary, &rows)?;
            outcome
        }
        Some(format) => {
            let mut out: Box<dyn Write> = match &args.out {
                Some(p) => Box::new(BufWriter::with_capacity(
                    1 << 20,
                    File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
                )),
                None => Box::new(BufWriter::with_capacity(1 << 20, io::stdout().lock())),
            };
            let title = format!(
                "质检报告 Inspection report — {} {}",
                inspector.pack().meta.name,
                inspector.pack().meta.version
            );
            write_header(&mut out, format, &title)?;
            let opts = pipeline::RunOptions { format, ..opts };
            let mut outcome = pipeline::run(&inputs, inspector.clone(), &mut out, &opts)?;
            errors.append(&mut outcome.errors);
            write_footer(&mut out, format, &outcome.summary, &errors)?;
            out.flush()?;
            outcome
        }
    };
    if !args.quiet {
        let table = outcome.summary.to_table();
        if to_stdout {
            eprint!("{table}");
        } else {
            print!("{table}");
        }
    }
    if let Some(code) = pipeline::report_duplicates_and_emptiness(&outcome, errors.len()) {
        return Ok(code);
    }
    Ok(ExitCode::SUCCESS)
}
