//! `kefu bench`: end-to-end throughput of inspection, from a JSONL file on
//! disk to a JSONL result file on disk, on generated conversations.
//!
//! The generator writes ~30-turn phone and chat conversations mixing clean
//! service with the violations the default pack looks for, so every kind of
//! rule does real work. It is deterministic (seeded) so figures compare
//! across runs.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use kefu_formats::report::OutputFormat;

use crate::{load_inspector, pipeline};

#[derive(clap::Args)]
pub(crate) struct BenchArgs {
    /// Conversations to generate.
    #[arg(long, default_value_t = 200_000)]
    conversations: usize,
    /// Turns per conversation.
    #[arg(long, default_value_t = 30)]
    turns: usize,
    /// Worker counts to measure, e.g. `1,2`.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    jobs: Vec<usize>,
    /// Where to keep the generated data (reused when it exists with the same size).
    #[arg(long, default_value = "bench-data")]
    dir: PathBuf,
    /// Rule pack. Default: the built-in zh-CN pack.
    #[arg(long)]
    pack: Option<PathBuf>,
    /// Only write the data file and exit.
    #[arg(long)]
    generate_only: bool,
    /// Conversation mixes to measure: `clean`, `mixed`, `heavy`.
    #[arg(long, value_delimiter = ',', default_value = "clean,heavy")]
    mix: Vec<Mix>,
    /// CPU for the pinned one-core figure (`taskset -c CPU`); `none` skips it.
    #[arg(long, default_value = "0")]
    pin: String,
}

/// Which conversations the generator writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Mix {
    /// Every conversation follows the clean script.
    Clean,
    /// 60 % clean, 40 % with problems (the data `kefu bench-kpi` uses).
    Mixed,
    /// Every conversation has problems: about ten findings each.
    Heavy,
}

impl Mix {
    fn name(self) -> &'static str {
        match self {
            Mix::Clean => "clean",
            Mix::Mixed => "mixed",
            Mix::Heavy => "heavy",
        }
    }

    /// The data file of this mix in `dir`.
    fn path(self, dir: &std::path::Path, n: usize, turns: usize) -> PathBuf {
        match self {
            // The historical name, shared with `kefu bench-kpi`.
            Mix::Mixed => dir.join(format!("conversations-{n}x{turns}.jsonl")),
            _ => dir.join(format!("conversations-{}-{n}x{turns}.jsonl", self.name())),
        }
    }
}

/// A small deterministic PRNG (xorshift64*), enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const OPENINGS: &[&str] = &[
    "您好，很高兴为您服务，请问有什么可以帮您？",
    "您好，工号1024为您服务，请问有什么可以帮您？",
    "您好，这里是客服中心，我是8号客服，请问您需要办理什么业务？",
];
const BAD_OPENINGS: &[&str] = &["喂，说吧什么事。", "嗯，讲。"];
const ISSUES: &[&str] = &[
    "我上个月的话费怎么多扣了二十块钱，你们帮我查一下。",
    "我的快递三天了还没到，物流一直不更新。",
    "我想问一下信用卡的账单分期怎么办理。",
    "宽带又断了，这已经是这周第三次了。",
    "我的密码忘记了，登录不上去。",
    "我想把套餐改成流量多一点的那种。",
];
const COMPLAINTS: &[&str] = &[
    "你们这个服务太慢了，我要投诉！",
    "等了半天也没人处理，怎么回事？",
];
const APOLOGIES: &[&str] = &[
    "非常抱歉给您带来不便，我马上为您处理。",
    "实在不好意思，让您着急了，我这就帮您跟进。",
];
const CUSTOMER_SMALL: &[&str] = &[
    "对，是这个号码。",
    "嗯，我明白了，那大概什么时候能处理好？",
    "那我需要准备什么材料？",
    "好的，我记一下。",
    "是上个月二十号左右。",
    "手机号是一三八零零一三八零零零。",
];
const AGENT_SMALL: &[&str] = &[
    "好的，请您提供一下机主的姓名和身份证后四位。",
    "您的快递目前在转运中心，预计明天送达，请您留意电话。",
    "分期可以在手机银行的账单页面办理，手续费按期数计算。",
    "我已经为您提交了维修工单，师傅会在24小时内联系您。",
    "跟您确认一下，您是要把套餐更改为每月三十G流量的版本，对吗？",
    "这边查到是系统重复扣费，会在三个工作日内原路退回。",
];
const AGENT_BAD: &[&str] = &[
    "这个我不知道，你自己去营业厅问吧。",
    "嗯嗯嗯，对对对，那个那个，你再说一遍。",
    "这不归我管，你打别的电话。",
];
const CLOSINGS: &[&str] = &[
    "请问还有其他问题吗？",
    "稍后请您对我的服务进行满意度评价，0到10分，谢谢。",
    "感谢您的来电，祝您生活愉快，再见！",
];

/// One generated turn: role, text, whether it follows a long gap or cuts in.
fn script(rng: &mut Rng, turns: usize, mix: Mix) -> Vec<(&'static str, &'static str)> {
    let mut v: Vec<(&str, &str)> = Vec::with_capacity(turns);
    // The draw happens in every mix, so `mixed` stays the historical data.
    let clean = match (rng.chance(60), mix) {
        (_, Mix::Clean) => true,
        (_, Mix::Heavy) => false,
        (c, Mix::Mixed) => c,
    };
    let bad_reply = if mix == Mix::Heavy { 45 } else { 8 };
    v.push((
        "agent",
        if clean || rng.chance(70) {
            rng.pick(OPENINGS)
        } else {
            rng.pick(BAD_OPENINGS)
        },
    ));
    v.push(("customer", rng.pick(ISSUES)));
    if !clean && rng.chance(40) {
        v.push(("agent", "好的，我帮您看一下。"));
        v.push(("customer", rng.pick(COMPLAINTS)));
        if rng.chance(50) {
            v.push(("agent", rng.pick(APOLOGIES)));
        }
    }
    v.push(("agent", "好的，请您稍等，我这边帮您查询一下。"));
    v.push(("customer", "好的。"));
    v.push((
        "agent",
        if clean || rng.chance(60) {
            "感谢您的耐心等待，已经查到了。"
        } else {
            "查到了。"
        },
    ));
    while v.len() + 4 < turns {
        v.push(("customer", rng.pick(CUSTOMER_SMALL)));
        let bad = !clean && rng.chance(bad_reply);
        v.push((
            "agent",
            if bad {
                rng.pick(AGENT_BAD)
            } else {
                rng.pick(AGENT_SMALL)
            },
        ));
    }
    v.push(("customer", "好的，谢谢。"));
    for c in CLOSINGS {
        if v.len() < turns && (clean || rng.chance(80)) {
            v.push(("agent", c));
        }
    }
    v.truncate(turns.max(1));
    v
}

/// Writes `n` generated conversations of `turns` turns to `path` as JSONL;
/// returns the bytes written.
pub(crate) fn generate(
    path: &std::path::Path,
    n: usize,
    turns: usize,
    mix: Mix,
) -> anyhow::Result<u64> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut line = String::with_capacity(8192);
    let mut total = 0u64;
    for i in 0..n {
        line.clear();
        let phone = rng.chance(70);
        let agent = rng.below(500);
        let hour = 8 + rng.below(12);
        let late = rng.chance(10);
        line.push_str(&format!(
            "{{\"id\":\"b-{i:08}\",\"channel\":\"{}\",\"agent_id\":\"a-{agent:03}\",\"agent_name\":\"坐席{agent}\",\
             \"customer_id\":\"u-{}\",\"started_at\":\"2026-10-{:02}T{hour:02}:{:02}:00+08:00\",\"wait_ms\":{},\"ended_by\":\"{}\",\"turns\":[",
            if phone { "phone" } else { "chat" },
            rng.below(100_000),
            2 + rng.below(27),
            rng.below(60),
            if late { 16_000 + rng.below(30_000) } else { 2_000 + rng.below(12_000) },
            if rng.chance(10) { "agent" } else { "customer" }
        ));
        let mut t_ms = 0u64;
        for (t, (role, text)) in script(&mut rng, turns, mix).into_iter().enumerate() {
            let chars = text.chars().count() as u64;
            // 2.5–4 characters a second, short pauses, now and then a long
            // silence or an interruption.
            let dur = chars * (250 + rng.below(150) as u64);
            let gap = if rng.chance(3) {
                12_000
            } else {
                300 + rng.below(1500) as u64
            };
            let start = (t_ms + gap).saturating_sub(if rng.chance(3) { 2_500 } else { 0 });
            if t > 0 {
                line.push(',');
            }
            line.push_str(&format!(
                "{{\"role\":\"{role}\",\"text\":\"{text}\",\"start_ms\":{start},\"end_ms\":{}}}",
                start + dur
            ));
            t_ms = start + dur;
        }
        line.push_str("]}\n");
        total += line.len() as u64;
        w.write_all(line.as_bytes())?;
    }
    w.flush()?;
    Ok(total)
}

/// Peak resident memory of this process, from /proc (Linux).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

pub(crate) fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let mut datas = Vec::with_capacity(args.mix.len());
    for &mix in &args.mix {
        let data = mix.path(&args.dir, args.conversations, args.turns);
        let started = Instant::now();
        let bytes = match std::fs::metadata(&data) {
            Ok(m) if m.len() > 0 => m.len(),
            _ => generate(&data, args.conversations, args.turns, mix)?,
        };
        eprintln!(
            "data: {} ({} conversations, {:.1} MB, ready in {:.1}s)",
            data.display(),
            args.conversations,
            bytes as f64 / 1e6,
            started.elapsed().as_secs_f64()
        );
        datas.push((mix, data));
    }
    if args.generate_only {
        return Ok(ExitCode::SUCCESS);
    }
    let compile = Instant::now();
    let inspector = Arc::new(load_inspector(args.pack.as_deref()).map_err(anyhow::Error::msg)?);
    println!(
        "pack compiled in {:.1} ms ({} rules)",
        compile.elapsed().as_secs_f64() * 1e3,
        inspector.pack().rules.len()
    );
    for (mix, data) in &datas {
        for &jobs in &args.jobs {
            let line = measure(&args.dir, data, *mix, jobs, inspector.clone())?;
            println!("{line}");
        }
        if args.pin != "none" {
            pinned(&args, *mix)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs the pipeline once over `data` with `jobs` workers, JSONL results
/// to a file, and describes the throughput.
fn measure(
    dir: &std::path::Path,
    data: &std::path::Path,
    mix: Mix,
    jobs: usize,
    inspector: Arc<kefu_engine::Inspector>,
) -> anyhow::Result<String> {
    let inputs = vec![pipeline::Input::native(data.to_path_buf())];
    let out_path = dir.join(format!("results-{}-j{jobs}.jsonl", mix.name()));
    let mut out = BufWriter::with_capacity(1 << 20, File::create(&out_path)?);
    let opts = pipeline::RunOptions {
        import: Default::default(),
        format: OutputFormat::Jsonl,
        jobs,
        progress: false,
        echo_errors: false,
        defaults: Default::default(),
    };
    let t = Instant::now();
    let outcome = pipeline::run(&inputs, inspector, &mut out, &opts)?;
    out.flush()?;
    let secs = t.elapsed().as_secs_f64();
    let n = outcome.summary.conversations;
    let findings: u64 = outcome.summary.rules.values().map(|r| r.findings).sum();
    Ok(format!(
        "mix {}, jobs {jobs}: {n} conversations in {secs:.2}s = {:.0} conversations/s, {:.1} MB/s in; \
         {:.1} findings per conversation; {} errors; average score {:.1}; peak RSS {} MiB",
        mix.name(),
        n as f64 / secs,
        outcome.bytes as f64 / 1e6 / secs,
        findings as f64 / (n.max(1)) as f64,
        outcome.errors.len(),
        outcome.summary.average_score(),
        peak_rss_kib().map_or("?".to_string(), |k| (k / 1024).to_string())
    ))
}

/// The pinned one-core figure: this program again, under `taskset -c CPU`,
/// with one worker, so the reader, the worker and the writer all share
/// that core (no thread can borrow another one).
fn pinned(args: &BenchArgs, mix: Mix) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("finding this program")?;
    let mut cmd = std::process::Command::new("taskset");
    cmd.arg("-c")
        .arg(&args.pin)
        .arg(exe)
        .arg("bench")
        .arg("--conversations")
        .arg(args.conversations.to_string())
        .arg("--turns")
        .arg(args.turns.to_string())
        .arg("--jobs")
        .arg("1")
        .arg("--dir")
        .arg(&args.dir)
        .arg("--mix")
        .arg(mix.name())
        .arg("--pin")
        .arg("none");
    if let Some(p) = &args.pack {
        cmd.arg("--pack").arg(p);
    }
    let output = match cmd.stderr(std::process::Stdio::null()).output() {
        Ok(o) => o,
        Err(e) => {
            println!("mix {}, pinned: not measured (taskset: {e})", mix.name());
            return Ok(());
        }
    };
    let text = String::from_utf8_lossy(&output.stdout);
    let mut any = false;
    for line in text.lines().filter(|l| l.starts_with("mix ")) {
        any = true;
        println!("{} (pinned: taskset -c {})", line, args.pin);
    }
    if !any || !output.status.success() {
        println!(
            "mix {}, pinned: not measured (taskset -c {} exited with {})",
            mix.name(),
            args.pin,
            output.status
        );
    }
    Ok(())
}

#[derive(clap::Args)]
pub(crate) struct KpiBenchArgs {
    /// Conversations in the month (generated across 500 agents in 2026-10).
    #[arg(long, default_value_t = 1_000_000)]
    conversations: usize,
    /// Turns per generated conversation.
    #[arg(long, default_value_t = 12)]
    turns: usize,
    /// Where to keep the data and the SQLite database (reused when present).
    #[arg(long, default_value = "bench-data")]
    dir: PathBuf,
    /// Timed report runs.
    #[arg(long, default_value_t = 5)]
    runs: usize,
}

/// `kefu bench-kpi`: KPIs and star ratings of every agent for a month,
/// on a SQLite database of generated, inspected conversations.
///
/// Prints four figures: rebuilding every daily rollup of the month from
/// the base tables, the report with ratings and the assessment when the
/// rollups are current (what a supervisor waits for), the same while a
/// re-inspection runs (stopped after the timed runs: its open slice rolls
/// back, the next run re-inspects with a new pack version), and the same
/// after one day was marked for a rebuild.
pub(crate) fn kpi(args: KpiBenchArgs) -> anyhow::Result<ExitCode> {
    use kefu_service::kpi::{assess, KpiService};
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let data = args.dir.join(format!(
        "conversations-{}x{}.jsonl",
        args.conversations, args.turns
    ));
    if std::fs::metadata(&data).map_or(true, |m| m.len() == 0) {
        let t = Instant::now();
        generate(&data, args.conversations, args.turns, Mix::Mixed)?;
        eprintln!(
            "generated {} in {:.1}s",
            data.display(),
            t.elapsed().as_secs_f64()
        );
    }
    let db_path = args
        .dir
        .join(format!("kpi-{}x{}.db", args.conversations, args.turns));
    let url = format!("sqlite://{}", db_path.display());
    if !db_path.exists() {
        let t = Instant::now();
        let status = std::process::Command::new(std::env::current_exe()?)
            .arg("import")
            .arg(&data)
            // A first bulk load nobody works beside: long write slices.
            .args(["--slice-ms", "1000"])
            .arg("--database")
            .arg(&url)
            .status()
            .context("running kefu import")?;
        anyhow::ensure!(status.success(), "kefu import failed");
        eprintln!("imported in {:.1}s", t.elapsed().as_secs_f64());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let store = kefu_store::Store::open(&url).await?;
        let period: kefu_service::period::Period = "2026-10".parse()?;
        let kpis = KpiService::new(store.clone());
        let settings = kpis.settings().await?;
        let t = Instant::now();
        let days = store.rebuild_rollups().await?;
        let rebuild = t.elapsed().as_secs_f64();
        let n = kpis
            .report_with(&period, &settings)
            .await?
            .centre
            .kpi("offered")
            .unwrap_or(0.0);
        println!(
            "{n} conversations in {}: rebuilt {days} daily rollups in {rebuild:.2}s",
            period.label
        );

        let mut times = Vec::with_capacity(args.runs);
        let mut agents = 0;
        let mut rated = 0;
        for _ in 0..args.runs.max(1) {
            let t = Instant::now();
            let report = kpis.report_with(&period, &settings).await?;
            let assessment = assess(&report, &settings.assessment);
            times.push(t.elapsed().as_secs_f64());
            agents = report.agents.len();
            rated = report
                .agents
                .iter()
                .filter(|a| a.rating.as_ref().is_some_and(|r| r.stars.is_some()))
                .count();
            std::hint::black_box(assessment);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "KPIs + star ratings + assessment for {agents} agents ({rated} rated): median {:.1} ms, best {:.1} ms, worst {:.1} ms over {} runs",
            times[times.len() / 2] * 1e3,
            times[0] * 1e3,
            times[times.len() - 1] * 1e3,
            times.len()
        );

        // A re-inspection (a new version of the built-in pack) running while
        // supervisors open the report: each slice changes the rollups in
        // place, so the report reads them as they are.
        let (inspector, source) = crate::load_inspector_with_source(None).map_err(|e| anyhow::anyhow!("{e}"))?;
        let source = format!("{source}\n# bench-kpi re-inspection {}\n", kefu_store::now_ms());
        let version = store
            .register_pack(&inspector.pack().meta.id, &inspector.pack().meta.version, &source)
            .await?;
        let done = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let running = {
            let (store, done) = (store.clone(), done.clone());
            tokio::spawn(async move {
                let mut progress = |o: &kefu_store::ReinspectOutcome| {
                    done.store(o.reinspected, std::sync::atomic::Ordering::Relaxed);
                };
                store
                    .reinspect_with_progress(&inspector, version.id, 2000, &mut progress)
                    .await
            })
        };
        while done.load(std::sync::atomic::Ordering::Relaxed) == 0 && !running.is_finished() {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let mut during = Vec::with_capacity(args.runs);
        for _ in 0..args.runs.max(1) {
            if running.is_finished() {
                break;
            }
            let t = Instant::now();
            let report = kpis.report_with(&period, &settings).await?;
            std::hint::black_box(assess(&report, &settings.assessment));
            during.push(t.elapsed().as_secs_f64());
            tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
        }
        let reinspected = done.load(std::sync::atomic::Ordering::Relaxed);
        running.abort();
        during.sort_by(f64::total_cmp);
        if during.is_empty() {
            println!("while a re-inspection runs: not measured (it finished first)");
        } else {
            println!(
                "the same while a re-inspection runs ({reinspected} re-inspected when stopped): median {:.1} ms, best {:.1} ms, worst {:.1} ms over {} runs",
                during[during.len() / 2] * 1e3,
                during[0] * 1e3,
                during[during.len() - 1] * 1e3,
                during.len()
            );
        }

        store.mark_day_stale(period.start_day() + 14).await?;
        let t = Instant::now();
        let report = kpis.report_with(&period, &settings).await?;
        std::hint::black_box(assess(&report, &settings.assessment));
        println!(
            "the same after one day was marked for a rebuild (by hand or by an older kefu; refreshes that day first): {:.1} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
        store.close().await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
