//! Keyset pagination of the complaint list on real databases (SQLite, and
//! PostgreSQL when `KEFU_TEST_PG_URL` is set): pages follow `opened_at DESC,
//! id DESC`, never repeat or skip a complaint while others are opened
//! meanwhile, agree with one big page under filters, and totals past the
//! count cap are marked estimated.

use std::collections::HashSet;

use chrono::{DateTime, Duration, TimeZone, Utc};
use kefu_service::complaint::{
    Actor, ActorRole, Assignee, ComplaintFilter, ComplaintList, ComplaintService, Customer,
    NewComplaint, Priority,
};
use kefu_store::Store;

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

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 9, 1, 0, 0)
        .single()
        .expect("valid time")
}

fn input(n: usize) -> NewComplaint {
    let mut input = NewComplaint::new(
        "",
        Customer {
            id: None,
            name: format!("客户{n}"),
            phone: None,
            id_number: None,
        },
        "phone",
        "billing",
        "话费多扣",
    );
    input.priority = [Priority::Low, Priority::Normal, Priority::High][n % 3];
    if n.is_multiple_of(4) {
        input.assignee = Some(Assignee::Group("billing".into()));
    }
    input
}

/// Opens complaint `n` at minute `minute` (several share a minute: ties).
async fn open(svc: &ComplaintService, n: usize, minute: i64) -> String {
    let sup = Actor::new("s1", ActorRole::Supervisor);
    svc.create(input(n), &sup, t0() + Duration::minutes(minute))
        .await
        .expect("create")
        .id
}

async fn page(svc: &ComplaintService, filter: &ComplaintFilter) -> ComplaintList {
    let sup = Actor::new("s1", ActorRole::Supervisor);
    svc.list_page(filter, &sup, t0() + Duration::days(1))
        .await
        .expect("list")
}

both_backends!(
    complaint_pages_neither_repeat_nor_skip,
    |store: Store| async move {
        let svc = ComplaintService::new(store.clone());
        let mut before = Vec::new();
        for n in 0..40 {
            before.push(open(&svc, n, 100 + (n as i64) / 3).await);
        }
        // Walk 6 at a time; between pages open newer ones, older ones, and ones
        // tied with rows already read.
        let mut seen: Vec<(DateTime<Utc>, String)> = Vec::new();
        let mut after = None;
        let mut extra = 1000;
        loop {
            let p = page(
                &svc,
                &ComplaintFilter {
                    limit: Some(6),
                    after: after.clone(),
                    ..Default::default()
                },
            )
            .await;
            assert!(!p.total_estimated);
            seen.extend(p.items.iter().map(|s| (s.opened_at, s.id.clone())));
            for minute in [500, 10, 100 + (seen.len() as i64) / 3] {
                extra += 1;
                open(&svc, extra, minute).await;
            }
            match p.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let ids: HashSet<&String> = seen.iter().map(|(_, id)| id).collect();
        assert_eq!(ids.len(), seen.len(), "no complaint twice");
        for id in &before {
            assert!(ids.contains(id), "{id} skipped");
        }
        assert!(
            seen.windows(2).all(|w| w[0] > w[1]),
            "newest first, ties by id"
        );

        // Filters: pages agree with one big page; old offsets still work.
        for filter in [
            ComplaintFilter {
                priority: Some(Priority::High),
                ..Default::default()
            },
            ComplaintFilter {
                assignee: Some(Assignee::Group("billing".into())),
                ..Default::default()
            },
            ComplaintFilter {
                unassigned: true,
                ..Default::default()
            },
            ComplaintFilter {
                opened_from: Some(t0() + Duration::minutes(100)),
                opened_to: Some(t0() + Duration::minutes(108)),
                ..Default::default()
            },
        ] {
            let whole = page(
                &svc,
                &ComplaintFilter {
                    limit: Some(500),
                    ..filter.clone()
                },
            )
            .await;
            assert!(whole.next.is_none());
            assert_eq!(whole.total, whole.items.len() as i64, "{filter:?}");
            let want: Vec<String> = whole.items.iter().map(|s| s.id.clone()).collect();
            let mut got = Vec::new();
            let mut after = None;
            loop {
                let p = page(
                    &svc,
                    &ComplaintFilter {
                        limit: Some(4),
                        after: after.clone(),
                        ..filter.clone()
                    },
                )
                .await;
                assert_eq!(p.total, whole.total);
                got.extend(p.items.into_iter().map(|s| s.id));
                match p.next {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
            assert_eq!(got, want, "{filter:?}");
            let second = page(
                &svc,
                &ComplaintFilter {
                    limit: Some(4),
                    offset: Some(4),
                    ..filter.clone()
                },
            )
            .await;
            let off: Vec<String> = second.items.into_iter().map(|s| s.id).collect();
            assert_eq!(off.as_slice(), &want[want.len().min(4)..want.len().min(8)]);
            // A page past the end is empty and still says how many match.
            let beyond = page(
                &svc,
                &ComplaintFilter {
                    limit: Some(4),
                    offset: Some(10_000),
                    ..filter.clone()
                },
            )
            .await;
            assert!(beyond.items.is_empty());
            assert_eq!(beyond.total, whole.total, "{filter:?}");
        }
        // Nothing matches: an empty first page counts nothing.
        let none = page(
            &svc,
            &ComplaintFilter {
                opened_from: Some(t0() + Duration::days(3650)),
                ..Default::default()
            },
        )
        .await;
        assert!(none.items.is_empty() && none.next.is_none());
        assert_eq!((none.total, none.total_estimated), (0, false));

        // A cursor that is not one is refused.
        let sup = Actor::new("s1", ActorRole::Supervisor);
        let err = svc
            .list_page(
                &ComplaintFilter {
                    after: Some("page-2".into()),
                    ..Default::default()
                },
                &sup,
                t0(),
            )
            .await
            .expect_err("bad cursor");
        assert!(matches!(err, kefu_service::Error::Invalid(_)), "{err:?}");
    }
);
