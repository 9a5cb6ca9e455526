//! Login throttling and session revocation on a password change, on real
//! databases (SQLite always, PostgreSQL when `KEFU_TEST_PG_URL` is set).

use std::time::Duration;

use kefu_service::auth::{self, NewUser, PasswordCost, Role};
use kefu_service::throttle;
use kefu_store::Store;

macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let _ = auth::set_password_cost(PasswordCost::CHEAP_FOR_TESTS);
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

const NOW: i64 = 1_800_000_000_000;

both_backends!(
    accounts_lock_with_backoff_and_unknown_names_alike,
    |store: Store| async move {
        auth::add_user(
            &store,
            NewUser {
                id: "boss".into(),
                display_name: "老板".into(),
                role: Role::Admin,
                team: None,
                password: Some("correct horse".into()),
            },
        )
        .await
        .expect("add user");
        // A known and an unknown name, each from its own address: the same
        // answers, attempt by attempt.
        for (user, addr) in [("boss", "10.0.0.1"), ("nobody", "10.0.0.2")] {
            let mut t = NOW;
            for n in 1..=5 {
                assert_eq!(
                    throttle::check(&store, user, Some(addr), t).await.unwrap(),
                    None
                );
                let lock = throttle::failed(&store, user, Some(addr), t).await.unwrap();
                assert_eq!(lock, None, "{user}: failure {n} is free");
                t += 10;
            }
            for (n, secs) in [(6, 1), (7, 2), (8, 4)] {
                let lock = throttle::failed(&store, user, Some(addr), t).await.unwrap();
                assert_eq!(
                    lock.map(|l| l.retry_after_s),
                    Some(secs),
                    "{user}: failure {n}"
                );
                let refused = throttle::check(&store, user, Some(addr), t + 1)
                    .await
                    .unwrap();
                assert_eq!(refused.map(|l| l.retry_after_s), Some(secs));
                t += secs as i64 * 1000;
                assert_eq!(
                    throttle::check(&store, user, Some(addr), t).await.unwrap(),
                    None
                );
            }
            let trail = store.audit_trail("login", user).await.unwrap();
            assert_eq!(trail.len(), 8, "every failure is audited");
            assert_eq!(trail.iter().filter(|e| e.action == "locked").count(), 3);
            assert_eq!(trail[7].detail["address"], addr);
        }
        // Success forgets the account's failures.
        throttle::succeeded(&store, "boss").await.unwrap();
        let lock = throttle::failed(&store, "boss", None, NOW + 60_000)
            .await
            .unwrap();
        assert_eq!(lock, None, "counting starts again");
    }
);

both_backends!(
    one_address_guessing_many_names_is_locked,
    |store: Store| async move {
        let addr = Some("192.0.2.7");
        for n in 0..20 {
            let lock = throttle::failed(&store, &format!("u{n}"), addr, NOW)
                .await
                .unwrap();
            assert_eq!(lock, None, "failure {n} of the address is free");
        }
        let lock = throttle::failed(&store, "u20", addr, NOW).await.unwrap();
        assert_eq!(lock.map(|l| l.retry_after_s), Some(1));
        // A name never tried from there is refused too; another address not.
        assert!(throttle::check(&store, "fresh", addr, NOW + 1)
            .await
            .unwrap()
            .is_some());
        assert!(throttle::check(&store, "fresh", Some("192.0.2.8"), NOW + 1)
            .await
            .unwrap()
            .is_none());
    }
);

both_backends!(
    a_new_password_ends_every_session,
    |store: Store| async move {
        auth::add_user(
            &store,
            NewUser {
                id: "q-01".into(),
                display_name: "质检".into(),
                role: Role::Inspector,
                team: None,
                password: Some("correct horse".into()),
            },
        )
        .await
        .expect("add user");
        let hour = Duration::from_secs(3600);
        let now = kefu_store::now_ms();
        let (token, _) = auth::create_session(&store, "q-01", hour, now)
            .await
            .unwrap();
        assert!(auth::principal_for_session(&store, &token, now + 1)
            .await
            .unwrap()
            .is_some());
        auth::set_password(&store, "q-01", Some("battery staple".into()))
            .await
            .expect("new password");
        assert!(
            auth::principal_for_session(&store, &token, now + 2)
                .await
                .unwrap()
                .is_none(),
            "the old session ended with the password change"
        );
    }
);
