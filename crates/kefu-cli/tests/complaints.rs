//! `kefu complaints import` on real files: a GBK CSV with Chinese headers
//! and a bad row (reported with its line, exit code 2), the same file again
//! (nothing filed twice), and an XLSX workbook with a date-time cell, on
//! SQLite and — when `KEFU_TEST_PG_URL` is set — PostgreSQL.

use std::process::{Command, Output};

use chrono::{FixedOffset, TimeZone};
use kefu_formats::export::{write_xlsx, Cell, Column, ColumnKind, Lang, Table};
use kefu_store::testing::TestDb;

fn kefu(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kefu"))
        .args(args)
        .env("KEFU_LOG", "error")
        .output()
        .expect("run kefu")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn run(db: &str, dir: &std::path::Path) {
    let csv = "投诉编号,客户,电话,渠道,类别,严重程度,内容,提交时间,坐席\n\
               C-1,张三,13800138000,电话,服务态度,高,坐席态度差,2026-03-09 09:00,a-07\n\
               C-2,李四,,在线,物流,很急,快递三天未到,2026-03-09 10:00,\n\
               ,王五,,微信,质量,紧急,收到破损,2026-03-09 11:30,\n";
    let (gbk, _, _) = encoding_rs::GBK.encode(csv);
    let path = dir.join("complaints.csv");
    std::fs::write(&path, &gbk).expect("write csv");
    let p = path.to_str().expect("path");
    let out = kefu(&["complaints", "import", p, "--database", db]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(
        stdout.contains("2 filed, 0 already stored, 1 rejected (GB18030)"),
        "{stdout}"
    );
    assert!(stderr.contains("complaints.csv:3: 严重程度"), "{stderr}");
    let out = kefu(&["complaints", "import", p, "--database", db]);
    let (stdout, _) = text(&out);
    assert!(stdout.contains("0 filed, 2 already stored"), "{stdout}");

    // XLSX, English headers, the time as an Excel date-time cell.
    let mut t = Table::new(
        "投诉",
        "Complaints",
        vec![
            Column::new("id", "投诉编号", "Complaint id", ColumnKind::Text),
            Column::new("customer", "客户", "Customer", ColumnKind::Text),
            Column::new("channel", "渠道", "Channel", ColumnKind::Text),
            Column::new("category", "类别", "Category", ColumnKind::Text),
            Column::new("content", "内容", "Content", ColumnKind::Text),
            Column::new("at", "提交时间", "Created at", ColumnKind::DateTime),
        ],
    );
    let cst = FixedOffset::east_opt(8 * 3600).expect("offset");
    t.rows.push(vec![
        Cell::text("X-1"),
        Cell::text("Zhao"),
        Cell::text("phone"),
        Cell::text("billing"),
        Cell::text("charged twice"),
        Cell::Time(
            cst.with_ymd_and_hms(2026, 3, 9, 14, 30, 0)
                .single()
                .expect("time"),
        ),
    ]);
    let xlsx = dir.join("complaints.xlsx");
    write_xlsx(&[t], Lang::En, &xlsx).expect("write xlsx");
    let out = kefu(&[
        "complaints",
        "import",
        xlsx.to_str().expect("p"),
        "--database",
        db,
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("1 filed"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complaints_import_on_both_backends() {
    let dir = std::env::temp_dir().join(format!("kefu-cli-complaints-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let sqlite = TestDb::sqlite("cli_complaints");
    run(&sqlite.url, &dir);
    if let Some(pg) = TestDb::postgres("cli_complaints").await {
        run(&pg.url, &dir);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
