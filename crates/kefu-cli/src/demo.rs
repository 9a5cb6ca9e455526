//! `kefu demo`: an example month loaded into the database, so that a first
//! run of the dashboard shows what kefu is for: 10 agents × 60 phone and
//! chat conversations in one recent month, with different error rates (so
//! stars differ), a few recurring defects (so the Pareto has a head) and a
//! spread over the days (so trends move), and six complaints about failing
//! calls, handled and surveyed. Generated deterministically: the
//! same month gives the same conversations, and loading twice stores
//! nothing twice.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{Datelike, Duration, NaiveDate, Utc};
use clap::Parser;
use serde_json::{json, Value};

/// `kefu demo` flags.
#[derive(clap::Args)]
pub(crate) struct DemoArgs {
    #[command(flatten)]
    db: crate::store::DatabaseArgs,
    /// Month to fill (`2026-10`). Default: the last full month, China time.
    #[arg(long)]
    month: Option<String>,
    /// Also keep the generated conversations in this JSONL file.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The demo's agents: id, name, team, how often they slip (per mille).
const AGENTS: &[(&str, &str, &str, u64)] = &[
    ("demo-01", "陈晓雯", "一组", 10),
    ("demo-02", "刘洋", "一组", 30),
    ("demo-03", "孙丽", "一组", 55),
    ("demo-04", "周杰", "一组", 80),
    ("demo-05", "吴敏", "一组", 120),
    ("demo-06", "郑浩", "二组", 20),
    ("demo-07", "王芳", "二组", 45),
    ("demo-08", "冯磊", "二组", 70),
    ("demo-09", "何静", "二组", 150),
    ("demo-10", "高远", "二组", 220),
];

/// Conversations per agent.
const PER_AGENT: u64 = 60;

/// A small deterministic generator (SplitMix64): the demo must not change
/// between runs or machines.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// What customers call about: (question, the agent's answer).
const TOPICS: &[(&str, &str)] = &[
    (
        "我这个月的话费怎么比上个月多了三十块？",
        "我帮您看了一下，多出来的是国际漫游流量费，您在月中有两天在境外使用了流量。",
    ),
    (
        "我想把套餐换成流量多一点的，有什么推荐？",
        "目前有一款七十九元的套餐，包含六十G通用流量，下个月一号生效。",
    ),
    (
        "宽带从昨天晚上开始就连不上了。",
        "我这边查到您所在小区的线路正在抢修，预计今天下午六点前恢复。",
    ),
    (
        "我的快递显示已签收，可是我没有收到。",
        "我已经联系了配送站点，快递员会在两小时内和您核实包裹去向。",
    ),
    (
        "积分兑换的话费券在哪里可以查到？",
        "您在手机营业厅的我的卡券里就可以看到，有效期是三十天。",
    ),
];

/// Defects an agent may slip into, each replacing their answer; each
/// holds enough forbidden phrases to fail the default pack.
const SLIPS: &[&str] = &[
    "这个我不知道，不清楚，也不明白，你自己去营业厅问吧。",
    "不关我的事，我不知道，爱找谁找谁去。",
    "我不清楚，也不明白，系统就是这么扣的，不关我的事。",
];

/// The last full month in China time.
fn last_month() -> NaiveDate {
    let today = (Utc::now() + Duration::hours(8)).date_naive();
    let first = today.with_day(1).unwrap_or(today);
    let prev = first - Duration::days(1);
    prev.with_day(1).unwrap_or(prev)
}

fn parse_month(s: &str) -> anyhow::Result<NaiveDate> {
    NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d")
        .with_context(|| format!("--month {s:?}: expected a month like 2026-10"))
}

/// One conversation of `agent` on `day`.
fn conversation(rng: &mut Rng, agent: (&str, &str, &str, u64), n: u64, day: NaiveDate) -> Value {
    let (id, name, _, slip_rate) = agent;
    let chat = rng.below(3) == 0;
    let (question, answer) = *rng.pick(TOPICS);
    let slipped = rng.below(1000) < slip_rate;
    let answer = if slipped { *rng.pick(SLIPS) } else { answer };
    // Smaller lapses, which cost points without failing, give the Pareto
    // more than one bar.
    let no_staff_no = rng.below(1000) < slip_rate / 2 + 40;
    let curt_close = rng.below(1000) < slip_rate / 2 + 60;
    let minute = 9 * 60 + rng.below(9 * 60);
    let started = format!(
        "{}T{:02}:{:02}:{:02}+08:00",
        day.format("%Y-%m-%d"),
        minute / 60,
        minute % 60,
        rng.below(60)
    );
    let staff_no = 2000 + id.trim_start_matches("demo-").parse::<u64>().unwrap_or(0);
    let lines: Vec<(&str, String)> = vec![
        (
            "agent",
            if chat {
                format!("您好，星联通信在线客服{name}为您服务，请问有什么可以帮您？")
            } else if no_staff_no {
                "喂，星联通信，什么事？".to_string()
            } else {
                format!("您好，星联通信，工号{staff_no}为您服务，请问有什么可以帮您？")
            },
        ),
        ("customer", question.to_string()),
        (
            "agent",
            "好的，请您提供一下机主姓名和身份证后四位，我帮您核实一下。".into(),
        ),
        ("customer", "李明，后四位是0421。".into()),
        ("agent", format!("感谢您的配合。{answer}")),
        ("customer", "好的，明白了。".into()),
        ("agent", "请问还有其他问题吗？".into()),
        ("customer", "没有了。".into()),
        (
            "agent",
            if curt_close {
                "行，那就这样。".into()
            } else {
                "稍后会有一条满意度评价短信，请您对我的服务进行评价。感谢您的来电，祝您生活愉快，再见！".into()
            },
        ),
    ];
    let mut at = 0u64;
    let turns: Vec<Value> = lines
        .into_iter()
        .map(|(role, text)| {
            let start = at + 500 + rng.below(1500);
            // About 200 characters a minute, a calm pace.
            let end = start + 300 * text.chars().count() as u64;
            at = end;
            if chat {
                json!({"role": role, "text": text})
            } else {
                json!({"role": role, "text": text, "start_ms": start, "end_ms": end})
            }
        })
        .collect();
    json!({
        "id": format!("demo-{}-{id}-{n:03}", day.format("%Y%m")),
        "channel": if chat { "chat" } else { "phone" },
        "agent_id": id,
        "agent_name": name,
        "customer_name": "李明",
        "started_at": started,
        "wait_ms": 3000 + rng.below(12_000),
        "ended_by": "customer",
        "turns": turns,
    })
}

/// The month's conversations, in order: every agent, spread over the
/// month's weekdays.
pub(crate) fn month(first: NaiveDate) -> Vec<Value> {
    let mut days = Vec::new();
    let mut d = first;
    while d.month() == first.month() {
        if d.weekday().num_days_from_monday() < 5 {
            days.push(d);
        }
        d += Duration::days(1);
    }
    let seed = u64::from(first.year().unsigned_abs()) * 100 + u64::from(first.month());
    let mut rng = Rng(seed);
    let mut out = Vec::with_capacity(AGENTS.len() * PER_AGENT as usize);
    for &agent in AGENTS {
        for n in 0..PER_AGENT {
            let day = days[(n as usize * days.len()) / PER_AGENT as usize];
            out.push(conversation(&mut rng, agent, n, day));
        }
    }
    out
}

/// `kefu import`'s flags, parsed from arguments, to load the month through
/// the same path as any file.
#[derive(Parser)]
struct ImportCommand {
    #[command(flatten)]
    args: crate::store::ImportArgs,
}

pub(crate) fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let first = match &args.month {
        Some(m) => parse_month(m)?,
        None => last_month(),
    };
    let records = month(first);
    let path = match &args.out {
        Some(p) => p.clone(),
        None => std::env::temp_dir().join(format!(
            "kefu-demo-{}-{}.jsonl",
            first.format("%Y-%m"),
            std::process::id()
        )),
    };
    {
        let mut file = std::io::BufWriter::new(
            std::fs::File::create(&path).with_context(|| format!("writing {}", path.display()))?,
        );
        for r in &records {
            serde_json::to_writer(&mut file, r)?;
            file.write_all(b"\n")?;
        }
        file.flush()?;
    }
    let url = args.db.url();
    let import = ImportCommand::try_parse_from([
        "import".to_string(),
        path.display().to_string(),
        "--database".to_string(),
        url,
    ])?;
    let code = crate::store::import(import.args)?;
    add_agents(&args.db.url())?;
    let complaints = add_complaints(&args.db.url(), &records)?;
    if args.out.is_none() {
        let _ = std::fs::remove_file(&path);
    }
    println!(
        "demo: {} agents × {PER_AGENT} conversations and {complaints} complaints in {}; open the dashboard with `kefu serve` and pick {} on the overview",
        AGENTS.len(),
        first.format("%Y-%m"),
        first.format("%Y-%m")
    );
    Ok(code)
}

/// Complaints about the first few failing conversations: each opened two
/// hours after the call, handled, answered, resolved the next day and
/// surveyed (some customers unsatisfied, which schedules a revisit). Fixed
/// ids, so a second run adds none. Returns how many exist.
fn add_complaints(url: &str, records: &[Value]) -> anyhow::Result<usize> {
    use kefu_service::complaint::{Actor, ActorRole, Command, Customer, NewComplaint, Priority};
    let failing: Vec<&Value> = records
        .iter()
        .filter(|c| {
            c["turns"][4]["text"]
                .as_str()
                .is_some_and(|t| SLIPS.iter().any(|s| t.contains(s)))
        })
        .step_by(8)
        .take(6)
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let store = kefu_store::Store::open(url).await?;
        let svc = kefu_service::complaint::ComplaintService::new(store.clone());
        let boss = Actor::new("demo-supervisor", ActorRole::Supervisor);
        let mut count = 0;
        for (i, conv) in failing.iter().enumerate() {
            let (Some(conv_id), Some(started)) = (
                conv["id"].as_str(),
                conv["started_at"]
                    .as_str()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()),
            ) else {
                continue;
            };
            let at = started.with_timezone(&Utc) + Duration::hours(2);
            let id = format!("DEMO-{}-{:02}", started.format("%Y%m"), i + 1);
            let input = NewComplaint {
                id: id.clone(),
                conversation_id: Some(conv_id.to_string()),
                customer: Customer {
                    id: None,
                    name: "李明".into(),
                    phone: Some(format!("1380013{:04}", 1000 + i)),
                    id_number: None,
                },
                channel: conv["channel"].as_str().unwrap_or("phone").to_string(),
                category: "服务态度".into(),
                description: "客户反映坐席说“不知道”，让自己去营业厅，态度差。".into(),
                key_facts: Vec::new(),
                priority: if i % 3 == 0 {
                    Priority::High
                } else {
                    Priority::Normal
                },
                special: false,
                assignee: conv["agent_id"]
                    .as_str()
                    .map(|a| kefu_service::complaint::Assignee::Agent(a.to_string())),
            };
            match svc.create(input, &boss, at).await {
                Ok(_) => {}
                // Already loaded by an earlier run.
                Err(kefu_service::Error::Conflict(_)) => {
                    count += 1;
                    continue;
                }
                Err(e) => return Err(anyhow::Error::from(e)),
            }
            let steps = [
                (Duration::hours(1), Command::StartHandling),
                (
                    Duration::hours(3),
                    Command::Reply {
                        message: "已向客户致歉，并说明了查询结果。".into(),
                    },
                ),
                (
                    Duration::hours(26),
                    Command::Resolve {
                        summary: "已致歉并重新核实，问题已解决；已对坐席进行辅导。".into(),
                    },
                ),
                (
                    Duration::hours(28),
                    Command::RecordSurvey {
                        result_score: [9, 6, 3][i % 3],
                        attitude_score: [10, 7, 4][i % 3],
                        comment: None,
                    },
                ),
            ];
            for (after, command) in steps {
                svc.execute(&id, None, &boss, command, at + after)
                    .await
                    .with_context(|| format!("demo complaint {id}"))?;
            }
            count += 1;
        }
        store.close().await;
        anyhow::Ok(count)
    })
}

/// The demo agents as users (without passwords: they cannot sign in until
/// an admin sets one), so that reports and the dashboard show their names
/// and teams. Existing users are left alone.
fn add_agents(url: &str) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let store = kefu_store::Store::open(url).await?;
        let existing: std::collections::HashSet<String> = kefu_service::auth::list_users(&store)
            .await?
            .into_iter()
            .map(|u| u.id)
            .collect();
        for (id, name, team, _) in AGENTS {
            if existing.contains(*id) {
                continue;
            }
            kefu_service::auth::add_user(
                &store,
                kefu_service::auth::NewUser {
                    id: (*id).into(),
                    display_name: (*name).into(),
                    role: kefu_service::auth::Role::Agent,
                    team: Some((*team).into()),
                    password: None,
                },
            )
            .await?;
        }
        store.close().await;
        anyhow::Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_month_gives_the_same_conversations() {
        let m = parse_month("2026-10").expect("month");
        let a = month(m);
        assert_eq!(a, month(m));
        assert_eq!(a.len(), 600);
        assert!(a.iter().all(|c| c["started_at"]
            .as_str()
            .is_some_and(|s| s.starts_with("2026-10-"))));
        let chats = a.iter().filter(|c| c["channel"] == "chat").count();
        assert!((100..300).contains(&chats), "{chats} chats");
        assert_ne!(a, month(parse_month("2026-09").expect("month")));
    }

    #[test]
    fn agents_pass_and_fail_at_different_rates_under_the_default_pack() {
        let inspector = kefu_engine::Inspector::new(
            kefu_engine::RulePack::from_toml(kefu_engine::pack::DEFAULT_PACK_ZH_CN).expect("pack"),
        )
        .expect("compile");
        let mut scratch = kefu_engine::Scratch::default();
        let mut failed = std::collections::BTreeMap::<String, usize>::new();
        for c in month(parse_month("2026-10").expect("month")) {
            let text = c.to_string();
            let conv = kefu_formats::native::parse_conversation(text.as_bytes()).expect("record");
            let ins = inspector.inspect(&conv, &mut scratch);
            *failed
                .entry(c["agent_id"].as_str().unwrap_or("").to_string())
                .or_default() += usize::from(!ins.passed);
        }
        // The careful agent hardly fails, the careless one often.
        assert!(failed["demo-01"] <= 3, "{failed:?}");
        assert!(failed["demo-10"] >= 6, "{failed:?}");
    }
}
