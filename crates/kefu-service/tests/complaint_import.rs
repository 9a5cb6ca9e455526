//! Complaints from a file (`ComplaintService::import_records`) against real
//! databases: an SQLite file always, and PostgreSQL when `KEFU_TEST_PG_URL`
//! is set (a fresh database per test, dropped after).

use chrono::{DateTime, Duration, TimeZone, Utc};
use kefu_formats::import::complaints::read_csv;
use kefu_service::complaint::{Actor, ActorRole, Assignee, ComplaintService, Priority};
use kefu_service::Error;
use kefu_store::Store;

/// Runs `body(store)` against SQLite and, when configured, PostgreSQL.
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let db = kefu_store::testing::TestDb::sqlite(stringify!($name));
            let store = Store::open(&db.url).await.expect("open sqlite");
            ($body)(store.clone()).await;
            store.close().await;
            if let Some(db) = kefu_store::testing::TestDb::postgres(stringify!($name)).await {
                let store = Store::open(&db.url).await.expect("open postgres");
                ($body)(store.clone()).await;
                store.close().await;
            }
        }
    };
}

/// Monday 2026-03-09 09:00 at +08:00.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 9, 1, 0, 0)
        .single()
        .expect("valid time")
}

fn supervisor() -> Actor {
    Actor::new("s1", ActorRole::Supervisor)
}

/// Chinese headers; line 5 has a bad time, line 6 no customer.
const FILE: &str = "\u{feff}投诉编号,客户,电话,渠道,类别,严重程度,内容,提交时间,坐席
C-1,张三,13800138000,电话,服务态度,高,坐席态度差,2026-03-09 09:00,a1
C-2,李四,,在线,物流,中,快递三天未到,2026-03-09T02:00:00Z,
,王五,,微信,质量,紧急,收到破损,2026-03-09 11:30:15,
C-4,钱七,,电话,账单,,多扣,bad time,
C-5,,,电话,账单,,没有客户,2026-03-09 09:00,
";

/// `客户,渠道,类别,严重程度,内容,提交时间` and one row (赵六) in GBK.
const GBK: &[u8] = b"\xbf\xcd\xbb\xa7,\xc7\xfe\xb5\xc0,\xc0\xe0\xb1\xf0,\xd1\xcf\xd6\xd8\xb3\xcc\xb6\xc8,\xc4\xda\xc8\xdd,\xcc\xe1\xbd\xbb\xca\xb1\xbc\xe4\n\xd5\xd4\xc1\xf9,\xb5\xe7\xbb\xb0,\xd5\xcb\xb5\xa5,\xb8\xdf,\xb6\xe0\xbf\xdb\xbb\xb0\xb7\xd1,2026-03-09 10:00\n";

both_backends!(
    complaints_file_is_filed_with_sla_and_reimport_is_idempotent,
    |store: Store| async move {
        let svc = ComplaintService::new(store);
        let now = t0() + Duration::days(1);
        let read = read_csv(FILE.as_bytes());
        assert!(read.errors.is_empty(), "{:?}", read.errors);
        assert_eq!(read.records.len(), 5);

        let out = svc
            .import_records(&read, &supervisor(), now)
            .await
            .expect("import");
        assert_eq!(out.filed, 3, "{out:?}");
        assert_eq!(out.skipped, 0);
        let lines: Vec<u64> = out.errors.iter().map(|e| e.0).collect();
        assert_eq!(lines, [5, 6], "{:?}", out.errors);
        assert!(out.errors[0].1.contains("bad time"), "{:?}", out.errors);
        assert!(
            out.errors[1].1.contains("customer name"),
            "{:?}",
            out.errors
        );

        // Dated by 提交时间 (local +08:00), so the SLA clock starts then.
        let c1 = svc
            .get("C-1", &supervisor(), now)
            .await
            .expect("get")
            .expect("stored");
        assert_eq!(c1.complaint.opened_at, t0());
        assert_eq!(c1.complaint.priority, Priority::High);
        assert_eq!(c1.complaint.assignee, Some(Assignee::Agent("a1".into())));
        assert_eq!(c1.complaint.customer.phone.as_deref(), Some("13800138000"));
        assert_eq!(c1.sla.first_reply.due_at, Some(t0() + Duration::hours(12)));
        let c2 = svc
            .get("C-2", &supervisor(), now)
            .await
            .expect("get")
            .expect("stored");
        assert_eq!(c2.complaint.opened_at, t0() + Duration::hours(1));
        assert_eq!(c2.sla.first_reply.due_at, Some(t0() + Duration::hours(13)));
        assert!(svc
            .get("C-4", &supervisor(), now)
            .await
            .expect("get")
            .is_none());

        // The same file again files nothing (the row without an id included).
        let again = svc
            .import_records(&read, &supervisor(), now)
            .await
            .expect("reimport");
        assert_eq!(again.filed, 0, "{again:?}");
        assert_eq!(again.skipped, 3);
        assert_eq!(again.errors.len(), 2);

        // GBK with Chinese headers and no id.
        let gbk = read_csv(GBK);
        assert_ne!(gbk.encoding, "UTF-8");
        assert_eq!(gbk.records[0].get("customer_name"), Some("赵六"));
        let out = svc
            .import_records(&gbk, &supervisor(), now)
            .await
            .expect("gbk import");
        assert_eq!((out.filed, out.skipped), (1, 0), "{out:?}");
        assert!(out.errors.is_empty(), "{:?}", out.errors);

        // A row without an id or a time is dated `now`, and still filed once.
        let undated = read_csv("客户,渠道,类别,内容\n孙七,电话,账单,无时间\n".as_bytes());
        for (filed, skipped) in [(1, 0), (0, 1)] {
            let out = svc
                .import_records(&undated, &supervisor(), now + Duration::minutes(filed))
                .await
                .expect("undated import");
            assert_eq!((out.filed, out.skipped), (filed as u64, skipped), "{out:?}");
        }

        // Times after `now` are refused; inspectors do not open complaints.
        let future = read_csv(
        "customer,channel,category,content,created_at\n赵六,phone,billing,x,2030-01-01T00:00:00Z\n"
            .as_bytes(),
    );
        let out = svc
            .import_records(&future, &supervisor(), now)
            .await
            .expect("import");
        assert_eq!(out.filed, 0);
        assert_eq!(out.errors.len(), 1);
        assert!(out.errors[0].1.contains("future"), "{:?}", out.errors);
        let err = svc
            .import_records(&read, &Actor::new("q1", ActorRole::Inspector), now)
            .await
            .expect_err("inspector");
        assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
    }
);

#[test]
fn a_file_without_a_content_column_is_refused() {
    let read = read_csv("客户,渠道\n张三,电话\n".as_bytes());
    assert!(read.records.is_empty());
    assert_eq!(read.errors.len(), 1);
    assert!(
        read.errors[0].reason.contains("content"),
        "{:?}",
        read.errors
    );
}
