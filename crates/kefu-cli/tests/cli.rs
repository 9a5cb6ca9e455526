//! The `kefu` binary end to end: real files in a temporary directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kefu(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kefu"))
        .args(args)
        .output()
        .expect("kefu runs")
}

fn tmpdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kefu-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

const GOOD: &str = r#"{"id":"c-1","channel":"chat","agent_id":"a-1","agent_name":"李娜","turns":[{"role":"customer","text":"在吗"},{"role":"agent","text":"这个我不知道"}]}"#;
const CLEAN: &str =
    r#"{"id":"c-2","channel":"chat","agent_id":"a-2","turns":[{"role":"agent","text":"您好"}]}"#;

const PACK: &str = r#"
[pack]
id = "t"
version = "1"
[[dimensions]]
id = "d"
name = "用语规范"
[[rules]]
id = "forbidden"
dimension = "d"
kind = "forbidden"
deduction = 30
phrases = ["不知道"]
"#;

fn setup(name: &str) -> (PathBuf, PathBuf) {
    let dir = tmpdir(name);
    let pack = dir.join("pack.toml");
    std::fs::write(&pack, PACK).unwrap();
    (dir, pack)
}

#[test]
fn malformed_lines_are_reported_and_the_rest_inspected() {
    let (dir, pack) = setup("malformed");
    let input = dir.join("in.jsonl");
    let mut bytes = Vec::new();
    bytes.extend_from_slice(GOOD.as_bytes());
    bytes.extend_from_slice(b"\n{\"id\":\"broken\",\"channel\":\"chat\",\"turns\":[\n");
    bytes.extend_from_slice(b"{\"id\":\"bad-utf8\",\"channel\":\"chat\",\"turns\":[{\"role\":\"agent\",\"text\":\"\xff\xfe\"}]}\n");
    bytes.extend_from_slice(
        b"{\"id\":\"role\",\"channel\":\"chat\",\"turns\":[{\"role\":\"fax\",\"text\":\"x\"}]}\n\n",
    );
    bytes.extend_from_slice(CLEAN.as_bytes());
    std::fs::write(&input, bytes).unwrap();
    let out = kefu(&["inspect", s(&input), "--pack", s(&pack), "--jobs", "2"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let name = s(&input);
    assert!(stderr.contains(&format!("{name}:2: ")), "{stderr}");
    assert!(
        stderr.contains(&format!("{name}:3: invalid UTF-8")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{name}:4: unknown role \"fax\"")),
        "{stderr}"
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["id"], "c-1");
    assert_eq!(lines[0]["score"], 70);
    assert_eq!(lines[0]["passed"], false);
    assert_eq!(lines[0]["findings"][0]["rule"], "forbidden");
    assert_eq!(lines[0]["findings"][0]["turn"], 1);
    assert_eq!(lines[0]["findings"][0]["span"], serde_json::json!([3, 6]));
    assert_eq!(lines[0]["findings"][0]["text"], "不知道");
    assert_eq!(lines[1]["id"], "c-2");
    assert_eq!(lines[1]["score"], 100);
    // The summary table goes to stderr when results go to stdout.
    assert!(stderr.contains("a-1"), "{stderr}");
}

#[test]
fn json_array_input_and_order_preserved_across_jobs() {
    let (dir, pack) = setup("array");
    let input = dir.join("in.json");
    let many: Vec<String> = (0..3000)
        .map(|i| {
            GOOD.replace("c-1", &format!("c-{i}"))
                .replace("a-1", &format!("a-{}", i % 7))
        })
        .collect();
    std::fs::write(&input, format!("[\n{}\n]\n", many.join(",\n"))).unwrap();
    let one = kefu(&[
        "inspect",
        s(&input),
        "--pack",
        s(&pack),
        "--jobs",
        "1",
        "-q",
    ]);
    let two = kefu(&[
        "inspect",
        s(&input),
        "--pack",
        s(&pack),
        "--jobs",
        "2",
        "-q",
    ]);
    assert!(one.status.success() && two.status.success());
    assert_eq!(one.stdout, two.stdout);
    let ids: Vec<String> = String::from_utf8(one.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids.len(), 3000);
    assert_eq!(ids[2999], "c-2999");
}

#[test]
fn csv_and_html_outputs() {
    let (dir, pack) = setup("formats");
    let input = dir.join("in.jsonl");
    std::fs::write(&input, format!("{GOOD}\n{CLEAN}\nnot json\n")).unwrap();
    let csv_path = dir.join("out.csv");
    let out = kefu(&[
        "inspect",
        s(&input),
        "--pack",
        s(&pack),
        "--format",
        "csv",
        "--out",
        s(&csv_path),
    ]);
    assert!(out.status.success());
    let csv = std::fs::read(&csv_path).unwrap();
    assert!(
        csv.starts_with("\u{feff}".as_bytes()),
        "Excel needs the BOM"
    );
    let text = String::from_utf8(csv).unwrap();
    assert_eq!(text.lines().count(), 3);
    assert!(text
        .lines()
        .nth(1)
        .unwrap()
        .starts_with("c-1,a-1,李娜,chat,70,"));
    // With --out the summary goes to stdout.
    assert!(String::from_utf8_lossy(&out.stdout).contains("a-1"));

    let html_path = dir.join("out.html");
    let out = kefu(&[
        "inspect",
        s(&input),
        "--pack",
        s(&pack),
        "--format",
        "html",
        "--out",
        s(&html_path),
    ]);
    assert!(out.status.success());
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.contains("<mark id=\"c-c-1-f0\""), "{html}");
    assert!(html.contains(">不知道</mark>"));
    assert!(html.contains("href=\"#c-c-1-f0\""));
    assert!(
        !html.contains("id=\"c-c-2\""),
        "clean conversations are not listed"
    );
    assert!(
        html.contains(":3: "),
        "the error section lists the bad line"
    );
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external resources"
    );
}

#[test]
fn unusable_input_or_pack_exits_non_zero() {
    let (dir, pack) = setup("unusable");
    let missing = dir.join("missing.jsonl");
    let out = kefu(&["inspect", s(&missing), "--pack", s(&pack)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such file"));

    let garbage = dir.join("garbage.jsonl");
    std::fs::write(&garbage, "hello\nworld\n").unwrap();
    let out = kefu(&["inspect", s(&garbage), "--pack", s(&pack)]);
    assert_eq!(out.status.code(), Some(2));

    let bad_pack = dir.join("bad.toml");
    std::fs::write(
        &bad_pack,
        "[pack]\nid = \"x\"\n\n[[rules]]\nid = \"a\"\ndimension = \"d\"\nkind = \"nope\"\n",
    )
    .unwrap();
    let input = dir.join("in.jsonl");
    std::fs::write(&input, GOOD).unwrap();
    let out = kefu(&["inspect", s(&input), "--pack", s(&bad_pack)]);
    assert_eq!(out.status.code(), Some(2));
    let check = kefu(&["rules", "check", s(&bad_pack)]);
    assert_eq!(check.status.code(), Some(2));
    let err = String::from_utf8_lossy(&check.stderr);
    assert!(
        err.contains(&format!(
            "{}:4: rule `a`: unknown kind `nope`",
            s(&bad_pack)
        )),
        "{err}"
    );
    assert!(kefu(&["rules", "check", s(&pack)]).status.success());
}

#[test]
fn rules_test_runs_cases() {
    let (dir, pack) = setup("cases");
    let cases = dir.join("cases.jsonl");
    let good_case = GOOD.replace(
        "\"turns\"",
        "\"expect\":{\"rules\":[\"forbidden\"],\"score\":70},\"turns\"",
    );
    let clean_case = CLEAN.replace("\"turns\"", "\"expect\":{\"rules\":[]},\"turns\"");
    std::fs::write(&cases, format!("{good_case}\n{clean_case}\n")).unwrap();
    let out = kefu(&["rules", "test", s(&pack), s(&cases)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 passed, 0 failed"));

    let wrong = CLEAN.replace(
        "\"turns\"",
        "\"expect\":{\"rules\":[\"forbidden\"]},\"turns\"",
    );
    std::fs::write(&cases, format!("{wrong}\n")).unwrap();
    let out = kefu(&["rules", "test", s(&pack), s(&cases)]);
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("FAIL") && stdout.contains(":1 c-2"),
        "{stdout}"
    );
}

#[test]
fn stdin_and_directories() {
    let (dir, pack) = setup("stdin");
    let sub = dir.join("day");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(sub.join("a.jsonl"), GOOD).unwrap();
    std::fs::write(sub.join("b.jsonl"), CLEAN).unwrap();
    std::fs::write(sub.join("notes.txt"), "ignored").unwrap();
    let out = kefu(&["inspect", s(&sub), "--pack", s(&pack), "-q"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);

    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_kefu"))
        .args(["inspect", "-", "--pack", s(&pack), "-q"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(GOOD.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"id\":\"c-1\""));
}

#[test]
fn builtin_pack_is_valid_and_printable() {
    let out = kefu(&["rules", "default"]);
    assert!(out.status.success());
    let dir = tmpdir("builtin");
    let p = dir.join("zh-CN.toml");
    std::fs::write(&p, &out.stdout).unwrap();
    let check = kefu(&["rules", "check", s(&p)]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(kefu(&["rules", "list"]).status.success());
}

#[test]
fn a_ten_megabyte_turn_is_inspected() {
    let (dir, pack) = setup("huge");
    let input = dir.join("huge.jsonl");
    // 3.5 million characters (10.5 MB of UTF-8) with a taboo near the end.
    let mut text = "您好请问有什么可以帮您".repeat(350_000);
    text.push_str("我不知道");
    let line = format!(
        "{{\"id\":\"big\",\"channel\":\"chat\",\"turns\":[{{\"role\":\"agent\",\"text\":\"{text}\"}}]}}\n{CLEAN}\n"
    );
    std::fs::write(&input, line).unwrap();
    let out = kefu(&["inspect", s(&input), "--pack", s(&pack), "-q"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let first: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(
        first["findings"][0]["span"],
        serde_json::json!([3_850_001, 3_850_004])
    );
    assert_eq!(stdout.lines().count(), 2);
}

/// Counts (conversations, current results) in an SQLite database.
fn sqlite_counts(db: &Path) -> (i64, i64) {
    try_sqlite_counts(db).unwrap()
}

/// Like [`sqlite_counts`], `Err` while the database is still being created
/// (the file exists before the migrations made the tables).
fn try_sqlite_counts(db: &Path) -> Result<(i64, i64), sqlx::Error> {
    let url = format!("sqlite://{}", db.display());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&url).await?;
        let row = sqlx::query_as::<_, (i64, i64)>(
            "SELECT (SELECT COUNT(*) FROM conversations), (SELECT COUNT(*) FROM inspections WHERE is_current = 1)",
        )
        .fetch_one(&pool)
        .await;
        pool.close().await;
        row
    })
}

#[test]
fn an_import_killed_half_way_leaves_whole_conversations_and_completes_on_rerun() {
    let (dir, _) = setup("kill");
    let gen = kefu(&[
        "bench",
        "--conversations",
        "20000",
        "--generate-only",
        "--mix",
        "mixed",
        "--dir",
        s(&dir),
    ]);
    assert!(
        gen.status.success(),
        "{}",
        String::from_utf8_lossy(&gen.stderr)
    );
    let data = dir.join("conversations-20000x30.jsonl");
    let db = dir.join("kill.db");
    let url = format!("sqlite://{}", db.display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_kefu"))
        .args(["import", s(&data), "--database", &url, "--jobs", "2"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill once some, but not all, batches are committed.
    let started = std::time::Instant::now();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let (n, _) = try_sqlite_counts(&db).unwrap_or((0, 0));
        if n > 0 || started.elapsed().as_secs() > 120 {
            break;
        }
    }
    child.kill().unwrap();
    let _ = child.wait();
    let (convs, current) = sqlite_counts(&db);
    assert!(
        convs < 20_000,
        "the import finished before it could be killed ({convs})"
    );
    assert_eq!(
        convs, current,
        "every stored conversation has exactly its result"
    );
    let refused = kefu(&["import", s(&data), "--database", &url, "--slice-ms", "0"]);
    assert!(!refused.status.success(), "a zero slice is refused");
    assert_eq!(sqlite_counts(&db), (convs, current), "and stores nothing");
    // The rest in long slices (a bulk load): the same outcome, fewer commits.
    let rerun = kefu(&["import", s(&data), "--database", &url, "--slice-ms", "1000"]);
    assert!(
        rerun.status.success(),
        "{}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    let said = String::from_utf8_lossy(&rerun.stdout);
    assert!(
        said.contains(&format!(
            "{} conversations stored, {convs} already there",
            20_000 - convs
        )),
        "{said}"
    );
    assert_eq!(sqlite_counts(&db), (20_000, 20_000));

    // A re-inspection killed half way: it commits in slices, each
    // conversation's new result together with the retirement of its old
    // one, so every conversation still has exactly one current result.
    let pack = dir.join("v2.toml");
    std::fs::write(
        &pack,
        format!(
            "{}\n# a new version\n",
            include_str!("../../kefu-engine/packs/zh-CN.toml")
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kefu"))
        .args(["reinspect", "--pack", s(&pack), "--database", &url])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(100));
        if try_sqlite_results(&db).unwrap_or(0) > 20_000 || started.elapsed().as_secs() > 120 {
            break;
        }
    }
    child.kill().unwrap();
    let _ = child.wait();
    let results = try_sqlite_results(&db).unwrap();
    assert!(
        results > 20_000 && results < 40_000,
        "killed half way ({results} results)"
    );
    assert_eq!(
        sqlite_counts(&db),
        (20_000, 20_000),
        "one current result each"
    );
    let rerun = kefu(&["reinspect", "--pack", s(&pack), "--database", &url]);
    assert!(
        rerun.status.success(),
        "{}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    let said = String::from_utf8_lossy(&rerun.stdout);
    assert!(
        said.contains(&format!("{} already current", results - 20_000)),
        "{said}"
    );
    assert!(said.contains("0 kept"), "{said}");
    assert_eq!(try_sqlite_results(&db).unwrap(), 40_000);
}

/// How many results (current and retired) the database holds.
fn try_sqlite_results(db: &Path) -> Result<i64, sqlx::Error> {
    let url = format!("sqlite://{}", db.display());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&url).await?;
        let n = sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM inspections")
            .fetch_one(&pool)
            .await;
        pool.close().await;
        n.map(|(n,)| n)
    })
}

/// The repository's example files.
fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

#[test]
fn vendor_csv_and_chat_files_are_detected_and_inspected() {
    let ex = examples();
    let out = kefu(&[
        "inspect",
        s(&ex.join("vendors")),
        s(&ex.join("imports")),
        "-q",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let results: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Six vendor files (one call each; Contact Lens included) plus the CSV,
    // GBK CSV, TSV and chat log.
    assert!(results.len() >= 10, "{stdout}");
    assert!(results.iter().any(|r| r["channel"] == "chat"));
    // The GBK file reads as the same conversations as its UTF-8 twin.
    let utf8 = kefu(&["inspect", s(&ex.join("imports/turns.csv")), "-q"]);
    let gbk = kefu(&["inspect", s(&ex.join("imports/turns-gbk.csv")), "-q"]);
    assert_eq!(utf8.stdout, gbk.stdout);
    // --from overrides detection: a vendor file read as native is an error, reported.
    let forced = kefu(&[
        "inspect",
        s(&ex.join("vendors/tencent.json")),
        "--from",
        "csv",
    ]);
    assert_eq!(forced.status.code(), Some(2));
    // Globs are expanded by kefu itself.
    let pattern = format!("{}/*.json", ex.join("vendors").display());
    let globbed = kefu(&["inspect", &pattern, "-q"]);
    assert!(globbed.status.success());
    assert_eq!(String::from_utf8_lossy(&globbed.stdout).lines().count(), 6);
}

#[test]
fn xlsx_output_is_a_workbook() {
    let (dir, pack) = setup("xlsx");
    let input = dir.join("in.jsonl");
    std::fs::write(&input, format!("{GOOD}\n{CLEAN}\n")).unwrap();
    let path = dir.join("out.xlsx");
    let out = kefu(&[
        "inspect",
        s(&input),
        "--pack",
        s(&pack),
        "--format",
        "xlsx",
        "--out",
        s(&path),
        "--lang",
        "en",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.starts_with(b"PK"), "an XLSX file is a zip archive");
    let no_out = kefu(&["inspect", s(&input), "--format", "xlsx"]);
    assert_eq!(no_out.status.code(), Some(2));
}

/// (agent_id, started_at ms) of every stored conversation.
fn stored_agents_and_starts(db: &Path) -> Vec<(Option<String>, Option<i64>)> {
    let url = format!("sqlite://{}", db.display());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        let rows = sqlx::query_as::<_, (Option<String>, Option<i64>)>(
            "SELECT agent_id, started_at FROM conversations ORDER BY id",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        pool.close().await;
        rows
    })
}

#[test]
fn import_sets_agent_and_start_time_of_asr_files_and_warns_about_the_rest() {
    let dir = tmpdir("defaults");
    let asr = std::fs::read(examples().join("vendors/aliyun.json")).unwrap();
    let named = dir.join("a-07_20261012_093000.json");
    std::fs::write(&named, &asr).unwrap();
    let plain = dir.join("recording.json");
    std::fs::write(
        &plain,
        std::fs::read(examples().join("vendors/tencent.json")).unwrap(),
    )
    .unwrap();

    // Without flags: stored, with a warning saying what it will miss.
    let db = dir.join("bare.db");
    let url = format!("sqlite://{}", db.display());
    let out = kefu(&["import", s(&plain), "--database", &url]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: 1 conversations read have no agent"),
        "{err}"
    );
    assert!(err.contains("KPIs") && err.contains("--agent"), "{err}");
    assert!(
        err.contains("warning: 1 conversations read have no start time"),
        "{err}"
    );
    assert_eq!(stored_agents_and_starts(&db), vec![(None, None)]);

    // From the file name, and from the flags for a name that does not match.
    let db = dir.join("set.db");
    let url = format!("sqlite://{}", db.display());
    let out = kefu(&[
        "import",
        s(&named),
        s(&plain),
        "--database",
        &url,
        "--file-pattern",
        "{agent}_{date}_{time}",
        "--agent",
        "a-09",
        "--started-at",
        "2026-10-12 10:00",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("warning:"), "{err}");
    let mut rows = stored_agents_and_starts(&db);
    rows.sort();
    // 2026-10-12 09:30 and 10:00 China time.
    assert_eq!(
        rows,
        vec![
            (Some("a-07".to_string()), Some(1_791_768_600_000)),
            (Some("a-09".to_string()), Some(1_791_770_400_000)),
        ]
    );

    // A bad flag is refused before anything is read.
    let out = kefu(&[
        "import",
        s(&plain),
        "--database",
        &url,
        "--started-at",
        "yesterday",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn demo_loads_a_month_once_with_agents_at_different_stars() {
    let dir = tmpdir("demo");
    let url = format!("sqlite://{}", dir.join("demo.db").display());
    let first = kefu(&["demo", "--month", "2026-10", "--database", &url]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let said = String::from_utf8_lossy(&first.stdout);
    assert!(
        said.contains("600 conversations stored, 0 already there"),
        "{said}"
    );
    assert!(said.contains("and 6 complaints"), "{said}");
    let again = kefu(&["demo", "--month", "2026-10", "--database", &url]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(
        String::from_utf8_lossy(&again.stdout)
            .contains("0 conversations stored, 600 already there"),
        "loading twice stores nothing twice"
    );
    let report = kefu(&[
        "report",
        "agents",
        "--period",
        "2026-10",
        "--database",
        &url,
        "--format",
        "csv",
    ]);
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let csv = String::from_utf8_lossy(&report.stdout);
    assert!(csv.contains("陈晓雯") && csv.contains("高远"), "{csv}");
    let complaints: usize = csv
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(16)?.parse::<usize>().ok())
        .sum();
    assert_eq!(complaints, 6, "{csv}");
    let stars: std::collections::BTreeSet<&str> = csv
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(3))
        .collect();
    assert!(
        stars.len() >= 3,
        "stars should differ between agents: {stars:?}\n{csv}"
    );
}
