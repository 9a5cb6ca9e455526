//! `kefu customers` on real files: a GBK CSV with Chinese headers and bad
//! rows (reported with their lines, exit code 2), XLSX and CSV exports
//! (masked unless --unmasked) that import again, grading and merging, on
//! SQLite and — when `KEFU_TEST_PG_URL` is set — PostgreSQL.

use std::process::{Command, Output};

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
    let csv = "客户编号,姓名,电话,负责坐席,单位,农历生日,等级,年采购量\n\
               c-1,张伟,138-0013-8000,a-07,星联科技,1988-闰6-10,A,1200\n\
               c-2,,13700137000,a-07,,,,\n\
               c-3,李娜,13600136000,a-11,,13-40,,\n\
               c-4,王芳,13500135000,a-11,,,B,\n\
               c-5,赵六,13800138000,a-11,,,,\n";
    let (gbk, _, _) = encoding_rs::GBK.encode(csv);
    let path = dir.join("customers.csv");
    std::fs::write(&path, &gbk).expect("write csv");
    let p = path.to_str().expect("path");
    let out = kefu(&["customers", "import", p, "--database", db]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(stdout.contains("2 created"), "{stdout}");
    assert!(stderr.contains("customers.csv:3: 姓名"), "{stderr}");
    assert!(stderr.contains("customers.csv:4: date"), "{stderr}");
    // Row 6 repeats c-1's phone: refused, with its line.
    assert!(stderr.contains("customers.csv:6:"), "{stderr}");
    let out = kefu(&["customers", "list", "--database", db]);
    let (stdout, _) = text(&out);
    assert!(stdout.contains("c-1\tA\t张伟\ta-07"), "{stdout}");
    assert!(stdout.contains("c-4\tB\t王芳"), "{stdout}");
    let out = kefu(&["customers", "show", "c-1", "--database", db]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("\"company\": \"星联科技\"") && stdout.contains("\"leap\": true"),
        "{stdout}"
    );
    assert!(
        stdout.contains("年采购量"),
        "unknown columns become custom fields: {stdout}"
    );
    // Exports: masked by default, full with --unmasked; both read again.
    let masked = dir.join("masked.csv");
    let out = kefu(&[
        "customers",
        "export",
        "--out",
        masked.to_str().expect("p"),
        "--database",
        db,
    ]);
    assert!(out.status.success(), "{:?}", text(&out));
    let masked_text = std::fs::read_to_string(&masked).expect("read");
    assert!(
        masked_text.contains("138****8000") && !masked_text.contains("13800138000"),
        "{masked_text}"
    );
    let full = dir.join("full.xlsx");
    let out = kefu(&[
        "customers",
        "export",
        "--out",
        full.to_str().expect("p"),
        "--unmasked",
        "--database",
        db,
    ]);
    assert!(out.status.success(), "{:?}", text(&out));
    let out = kefu(&[
        "customers",
        "import",
        full.to_str().expect("p"),
        "--database",
        db,
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("0 created, 2 updated"), "{stdout}");
    // Grade by hand, then merge and undo.
    let out = kefu(&[
        "customers",
        "grade",
        "c-4",
        "--set",
        "A",
        "--reason",
        "年度大客户",
        "--database",
        db,
    ]);
    assert!(text(&out).0.contains("c-4: A (manual)"), "{:?}", text(&out));
    let out = kefu(&["customers", "merge", "c-1", "c-4", "--database", db]);
    let (stdout, stderr) = text(&out);
    assert!(
        stdout.contains("c-4 merged into c-1 (merge 1"),
        "{stdout}{stderr}"
    );
    let out = kefu(&["customers", "merge", "--undo", "1", "--database", db]);
    assert!(text(&out).0.contains("merge 1 undone"), "{:?}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_cli_on_both_backends() {
    let dir = std::env::temp_dir().join(format!("kefu-cli-customers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let sqlite = TestDb::sqlite("cli_customers");
    run(&sqlite.url, &dir);
    if let Some(pg) = TestDb::postgres("cli_customers").await {
        run(&pg.url, &dir);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `kefu serve --customer-sync` (and `$KEFU_CUSTOMER_SYNC`) must be a whole
/// number of seconds of at least 1: anything else exits with status 2
/// before serving.
#[test]
fn serve_refuses_an_unusable_customer_sync() {
    let out = kefu(&["serve", "--customer-sync", "0", "--listen", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(2));
    let (_, err) = text(&out);
    assert!(err.contains("KEFU_CUSTOMER_SYNC"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_kefu"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("KEFU_CUSTOMER_SYNC", "hourly")
        .output()
        .expect("kefu runs");
    assert_eq!(out.status.code(), Some(2));
    let (_, err) = text(&out);
    assert!(err.contains("KEFU_CUSTOMER_SYNC=hourly"), "{err}");
}
