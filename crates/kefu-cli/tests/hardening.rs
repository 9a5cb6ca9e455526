//! Hardening of the `kefu` binary (issue 17): CSV formula injection, exit
//! codes on unreadable input, duplicate ids, per-file encoding, size limits.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kefu(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kefu"))
        .args(args)
        .output()
        .expect("kefu runs")
}

fn tmpdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kefu-hard-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

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
    std::fs::write(&pack, PACK).expect("pack");
    (dir, pack)
}

#[test]
fn inspect_csv_neutralises_formula_cells() {
    let (dir, pack) = setup("formula");
    let input = dir.join("in.jsonl");
    std::fs::write(
        &input,
        concat!(
            r#"{"id":"=HYPERLINK(\"http://x\")","channel":"chat","agent_id":"+a-1","agent_name":"@李娜","turns":[{"role":"agent","text":"这个我不知道"}]}"#,
            "\n",
            r#"{"id":"-1+2","channel":"chat","agent_id":"a-2","turns":[{"role":"agent","text":"您好"}]}"#,
            "\n"
        ),
    )
    .expect("input");
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
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&csv_path).expect("csv");
    let mut r = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let rows: Vec<csv::StringRecord> = r.records().collect::<Result<_, _>>().expect("parses");
    assert_eq!(rows.len(), 2);
    assert_eq!(&rows[0][0], "'=HYPERLINK(\"http://x\")");
    assert_eq!(&rows[0][1], "'+a-1");
    assert_eq!(&rows[0][2], "'@李娜");
    assert_eq!(&rows[0][4], "70", "numbers stay numbers");
    assert_eq!(&rows[1][0], "'-1+2");
    for row in &rows {
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']) || cell == "-",
                "unguarded cell {cell:?}"
            );
        }
    }
}

fn conv(id: &str, text: &str) -> String {
    format!(
        r#"{{"id":"{id}","channel":"chat","agent_id":"a-1","turns":[{{"role":"agent","text":"{text}"}}]}}"#
    )
}

#[test]
fn nothing_readable_exits_2_with_a_message() {
    let (dir, pack) = setup("empty");
    let cases: [(&str, &[u8]); 4] = [
        ("empty.jsonl", b""),
        ("bom.jsonl", b"\xef\xbb\xbf"),
        ("header.csv", b"id,role,text\r\n"),
        ("bomheader.csv", b"\xef\xbb\xbfid,role,text\n"),
    ];
    for (name, bytes) in cases {
        let input = dir.join(name);
        std::fs::write(&input, bytes).expect("input");
        let out = kefu(&["inspect", s(&input), "--pack", s(&pack), "--quiet"]);
        assert_eq!(out.status.code(), Some(2), "inspect {name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("no conversation could be read"),
            "{name}: {err}"
        );

        let url = format!("sqlite://{}", dir.join(format!("{name}.db")).display());
        let out = kefu(&["import", s(&input), "--database", &url, "--pack", s(&pack)]);
        assert_eq!(out.status.code(), Some(2), "import {name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("no conversation could be read"),
            "{name}: {err}"
        );
    }
}

#[test]
fn duplicate_ids_are_reported_with_lines() {
    let (dir, pack) = setup("dupes");
    let input = dir.join("in.jsonl");
    let lines = [
        conv("c-1", "您好"),
        conv("c-1", "您好"),
        conv("c-2", "您好"),
        conv("c-1", "这个我不知道"),
        conv("c-2", "再见"),
    ];
    std::fs::write(&input, lines.join("\n") + "\n").expect("input");
    let name = s(&input);

    let out = kefu(&["inspect", name, "--pack", s(&pack), "--quiet"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{name}:4: duplicate id \"c-1\" with different content (first at {name}:1)"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("{name}:5: duplicate id \"c-2\"")),
        "{err}"
    );
    assert!(
        err.contains("1 identical duplicate records, 2 duplicate ids with different content"),
        "{err}"
    );

    let url = format!("sqlite://{}", dir.join("d.db").display());
    let out = kefu(&["import", name, "--database", &url, "--pack", s(&pack)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("2 conversations stored")
            && said.contains("1 identical duplicates, 2 conflicting duplicates"),
        "{said}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{name}:4: duplicate id \"c-1\"")),
        "{err}"
    );
}

fn kefu_with_password(args: &[&str], password: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kefu"))
        .args(args)
        .env("KEFU_PASSWORD", password)
        .output()
        .expect("kefu runs")
}

fn audit_actions(db: &Path) -> Vec<(String, String, String)> {
    let url = format!("sqlite://{}", db.display());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&url).await.expect("open");
        let rows = sqlx::query_as::<_, (String, String, String)>(
            "SELECT actor_id, entity_id, action FROM audit_log WHERE entity = 'user' ORDER BY id",
        )
        .fetch_all(&pool)
        .await
        .expect("audit rows");
        pool.close().await;
        rows
    })
}

#[test]
fn account_controls_from_the_command_line_are_checked_and_audited() {
    let dir = tmpdir("accounts");
    let db = dir.join("users.db");
    let url = format!("sqlite://{}", db.display());
    let add = |password: &str| {
        kefu_with_password(
            &[
                "user",
                "add",
                "qa-1",
                "--role",
                "inspector",
                "--database",
                &url,
            ],
            password,
        )
    };
    for weak in ["password", "aaaaaaaa", "        ", "qa-1", "QA-1"] {
        let out = add(weak);
        assert!(!out.status.success(), "{weak:?} accepted");
    }
    let out = add("Zhiliang-2026!");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let passwd = |password: &str| {
        kefu_with_password(&["user", "passwd", "qa-1", "--database", &url], password)
    };
    let out = passwd("12345678");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("too common"));
    let out = passwd("another-Good-one");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = kefu(&["user", "role", "qa-1", "supervisor", "--database", &url]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = kefu(&["user", "logout-all", "qa-1", "--database", &url]);
    assert!(out.status.success());
    let out = kefu(&["user", "revoke-token", "qa-1", "999", "--database", &url]);
    assert!(!out.status.success(), "no such token");
    let out = kefu(&["user", "deactivate", "qa-1", "--database", &url]);
    assert!(out.status.success());
    let out = kefu(&["user", "passwd", "nobody", "--database", &url]);
    assert!(!out.status.success(), "unknown user");

    let list = kefu(&["user", "list", "--database", &url]);
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        listed.contains("qa-1\tqa-1\tsupervisor\t\tinactive"),
        "{listed}"
    );

    let actions: Vec<String> = audit_actions(&db)
        .into_iter()
        .map(|(by, user, action)| format!("{by}:{user}:{action}"))
        .collect();
    assert_eq!(
        actions,
        [
            "cli:qa-1:password_changed",
            "cli:qa-1:role_changed",
            "cli:qa-1:sessions_ended",
            "cli:qa-1:deactivated",
        ]
    );
}

#[test]
fn record_and_file_size_limits_are_configurable_with_clear_errors() {
    let (dir, pack) = setup("sizes");
    let input = dir.join("in.jsonl");
    let long = conv("c-long", &"好".repeat(200));
    std::fs::write(&input, format!("{}\n{long}\n", conv("c-1", "您好"))).expect("input");
    let out = kefu(&[
        "inspect",
        s(&input),
        "--pack",
        s(&pack),
        "--quiet",
        "--max-record-size",
        "300",
    ]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:2: record longer than 300 bytes (the per-record limit), skipped",
            s(&input)
        )),
        "{err}"
    );
    let results = String::from_utf8_lossy(&out.stdout);
    assert_eq!(results.lines().count(), 1, "the short record is inspected");

    let csv = dir.join("turns.csv");
    std::fs::write(&csv, "会话ID,角色,内容\nc-1,客服,您好\nc-1,客户,你好\n").expect("csv");
    let out = kefu(&[
        "inspect",
        s(&csv),
        "--pack",
        s(&pack),
        "--quiet",
        "--max-file-size",
        "20",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("more than the per-file limit of 20 bytes"),
        "{err}"
    );
    // Within the default limit the same file reads.
    let out = kefu(&["inspect", s(&csv), "--pack", s(&pack), "--quiet"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn serve_refuses_unusable_connection_limits() {
    let out = kefu(&["serve", "--header-timeout", "0", "--listen", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("KEFU_HEADER_TIMEOUT"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_kefu"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("KEFU_MAX_CONNECTIONS", "many")
        .output()
        .expect("kefu runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("KEFU_MAX_CONNECTIONS=many"), "{err}");
}
