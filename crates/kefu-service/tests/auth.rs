//! Users, passwords, sessions and API tokens against real databases: an
//! SQLite file always, and PostgreSQL when `KEFU_TEST_PG_URL` is set (a
//! fresh database per test, dropped after).

use std::time::Duration;

use kefu_service::auth::{self, NewUser, PasswordCost, Principal, Role, TOKEN_TOUCH_INTERVAL_MS};
use kefu_service::Error;
use kefu_store::Store;
use sqlx::Row;

/// Runs `body` against SQLite and, when configured, PostgreSQL, with cheap
/// argon2 parameters.
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            auth::set_password_cost(PasswordCost::CHEAP_FOR_TESTS).expect("cost");
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

/// A fixed clock: 2027-01-15 08:00 UTC.
const NOW: i64 = 1_800_000_000_000;
const HOUR: Duration = Duration::from_secs(3600);

fn new_user(id: &str, role: Role, password: Option<&str>) -> NewUser {
    NewUser {
        id: id.into(),
        display_name: format!("用户 {id}"),
        role,
        team: Some("一组".into()),
        password: password.map(str::to_string),
    }
}

fn principal(user_id: &str, role: Role) -> Principal {
    Principal {
        user_id: user_id.into(),
        role,
        team: None,
    }
}

both_backends!(passwords_verify, |store: Store| async move {
    let admin = auth::add_user(&store, new_user("boss", Role::Admin, Some("correct horse")))
        .await
        .expect("add admin");
    assert_eq!(admin.role, Role::Admin);
    assert!(admin.active);
    assert_eq!(admin.team.as_deref(), Some("一组"));

    let p = auth::verify_password(&store, "boss", "correct horse")
        .await
        .expect("right password")
        .expect("signed in");
    assert_eq!(p, admin.principal());
    assert_eq!(p.user_id, "boss");

    for (id, password) in [
        ("boss", "correct horsE"),
        ("boss", ""),
        ("nobody", "correct horse"),
        ("", "correct horse"),
    ] {
        let err = auth::verify_password(&store, id, password).await;
        assert!(matches!(err, Ok(None)), "{id}/{password}: {err:?}");
    }

    // The stored hash is an argon2id PHC string with the configured cost.
    let row = sqlx::query("SELECT password_hash FROM users WHERE id = $1")
        .bind("boss")
        .fetch_one(kefu_store::testing::pool(&store))
        .await
        .expect("row");
    let hash: String = row.get("password_hash");
    assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{hash}");
    assert!(!hash.contains("correct horse"));

    // Inactive users are refused with the same error, and come back.
    auth::set_active(&store, "boss", false)
        .await
        .expect("deactivate");
    assert!(matches!(
        auth::verify_password(&store, "boss", "correct horse").await,
        Ok(None)
    ));
    assert!(
        !auth::get_user(&store, "boss")
            .await
            .expect("get")
            .expect("present")
            .active
    );
    auth::set_active(&store, "boss", true)
        .await
        .expect("reactivate");
    auth::verify_password(&store, "boss", "correct horse")
        .await
        .expect("active again")
        .expect("signed in");

    // A new password replaces the old one.
    auth::set_password(&store, "boss", Some("battery staple".into()))
        .await
        .expect("set password");
    assert!(matches!(
        auth::verify_password(&store, "boss", "correct horse").await,
        Ok(None)
    ));
    auth::verify_password(&store, "boss", "battery staple")
        .await
        .expect("new password")
        .expect("signed in");
    assert!(matches!(
        auth::set_password(&store, "boss", Some("short".into())).await,
        Err(Error::Invalid(_))
    ));
    assert!(matches!(
        auth::set_password(&store, "ghost", Some("long enough".into())).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        auth::set_active(&store, "ghost", true).await,
        Err(Error::NotFound(_))
    ));

    // A token-only service account cannot sign in with any password.
    auth::add_user(&store, new_user("crm-sync", Role::Inspector, None))
        .await
        .expect("service account");
    assert!(matches!(
        auth::verify_password(&store, "crm-sync", "").await,
        Ok(None)
    ));
    assert!(matches!(
        auth::verify_password(&store, "crm-sync", "anything at all").await,
        Ok(None)
    ));
});

both_backends!(users_validate_and_list, |store: Store| async move {
    auth::add_user(&store, new_user("a-07", Role::Agent, Some("8chars-x")))
        .await
        .expect("agent with an 8-character password");
    let dup = auth::add_user(
        &store,
        new_user("a-07", Role::Admin, Some("other password")),
    )
    .await;
    match dup {
        Err(Error::Conflict(msg)) => assert!(msg.contains("a-07"), "{msg}"),
        other => panic!("duplicate id: {other:?}"),
    }
    // The first user is untouched by the failed duplicate.
    let a07 = auth::get_user(&store, "a-07")
        .await
        .expect("get")
        .expect("present");
    assert_eq!(a07.role, Role::Agent);
    auth::verify_password(&store, "a-07", "8chars-x")
        .await
        .expect("original password")
        .expect("signed in");

    for bad_id in [
        "",
        "-leading-dash",
        "has space",
        "中文",
        "semi;colon",
        &"x".repeat(65),
    ] {
        let r = auth::add_user(&store, new_user(bad_id, Role::Agent, None)).await;
        assert!(matches!(r, Err(Error::Invalid(_))), "{bad_id:?}: {r:?}");
    }
    for bad_password in ["", "1234567", "七个字的密码啊"] {
        let r = auth::add_user(&store, new_user("a-08", Role::Agent, Some(bad_password))).await;
        assert!(
            matches!(r, Err(Error::Invalid(_))),
            "{bad_password:?}: {r:?}"
        );
    }
    assert!(
        auth::get_user(&store, "a-08").await.expect("get").is_none(),
        "rejected users are not stored"
    );
    // Eight CJK characters are eight characters.
    auth::add_user(
        &store,
        new_user("a-08", Role::Agent, Some("八个字的密码好的")),
    )
    .await
    .expect("8 CJK characters");

    let svc = auth::add_user(
        &store,
        NewUser {
            id: "zhang.wei_2".into(),
            display_name: "  ".into(),
            role: Role::Supervisor,
            team: Some("  ".into()),
            password: None,
        },
    )
    .await
    .expect("add supervisor");
    assert_eq!(
        svc.display_name, "zhang.wei_2",
        "empty name falls back to id"
    );
    assert_eq!(svc.team, None, "blank team is none");

    let users = auth::list_users(&store).await.expect("list");
    let ids: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids, ["a-07", "a-08", "zhang.wei_2"]);
    assert_eq!(users[2], svc);
    assert_eq!(users[0].display_name, "用户 a-07");
});

both_backends!(sessions_expire_and_end, |store: Store| async move {
    auth::add_user(
        &store,
        new_user("q-01", Role::Inspector, Some("inspector pw")),
    )
    .await
    .expect("add");
    let (token, expires_at) = auth::create_session(&store, "q-01", HOUR, NOW)
        .await
        .expect("session");
    assert_eq!(expires_at, NOW + 3_600_000);
    assert_eq!(token.len(), 64);

    let p = auth::principal_for_session(&store, &token, NOW + 1)
        .await
        .expect("lookup")
        .expect("valid session");
    assert_eq!(p.user_id, "q-01");
    assert_eq!(p.role, Role::Inspector);
    assert_eq!(p.team.as_deref(), Some("一组"));
    assert!(auth::principal_for_session(&store, &token, expires_at - 1)
        .await
        .expect("lookup")
        .is_some());
    assert!(
        auth::principal_for_session(&store, &token, expires_at)
            .await
            .expect("lookup")
            .is_none(),
        "expired at expires_at"
    );

    // Stored hashed.
    let rows = sqlx::query("SELECT id, user_id FROM sessions")
        .fetch_all(kefu_store::testing::pool(&store))
        .await
        .expect("rows");
    assert_eq!(rows.len(), 1);
    let id: String = rows[0].get("id");
    assert_ne!(id, token);
    assert!(!id.contains(&token));
    assert_eq!(id, auth::token_hash(&token));

    // Unknown, malformed and other tokens are nobody.
    for bogus in [
        "",
        "x",
        &"0".repeat(64),
        &token[..63],
        &auth::token_hash(&token),
    ] {
        assert!(auth::principal_for_session(&store, bogus, NOW)
            .await
            .expect("lookup")
            .is_none());
    }

    // Deactivation stops sessions at once; ending one removes it.
    let (second, _) = auth::create_session(&store, "q-01", HOUR, NOW)
        .await
        .expect("second session");
    auth::set_active(&store, "q-01", false)
        .await
        .expect("deactivate");
    assert!(auth::principal_for_session(&store, &second, NOW)
        .await
        .expect("lookup")
        .is_none());
    assert!(matches!(
        auth::create_session(&store, "q-01", HOUR, NOW).await,
        Err(Error::Invalid(_))
    ));
    auth::set_active(&store, "q-01", true)
        .await
        .expect("reactivate");
    assert!(auth::principal_for_session(&store, &second, NOW)
        .await
        .expect("lookup")
        .is_some());
    auth::end_session(&store, &second).await.expect("end");
    assert!(auth::principal_for_session(&store, &second, NOW)
        .await
        .expect("lookup")
        .is_none());
    auth::end_session(&store, &second).await.expect("end twice");

    assert!(matches!(
        auth::create_session(&store, "ghost", HOUR, NOW).await,
        Err(Error::NotFound(_))
    ));

    // Housekeeping and signing out everywhere.
    let (third, _) = auth::create_session(&store, "q-01", HOUR * 10, NOW)
        .await
        .expect("third session");
    assert_eq!(
        auth::purge_expired_sessions(&store, expires_at)
            .await
            .expect("purge"),
        1
    );
    assert!(auth::principal_for_session(&store, &third, expires_at)
        .await
        .expect("lookup")
        .is_some());
    assert_eq!(
        auth::end_user_sessions(&store, "q-01")
            .await
            .expect("end all"),
        1
    );
    assert!(auth::principal_for_session(&store, &third, NOW)
        .await
        .expect("lookup")
        .is_none());
});

both_backends!(api_tokens_until_revoked, |store: Store| async move {
    auth::add_user(&store, new_user("crm", Role::Supervisor, None))
        .await
        .expect("service account");
    auth::add_user(&store, new_user("other", Role::Agent, None))
        .await
        .expect("other account");
    let (token, info) = auth::create_api_token(&store, "crm", " CRM sync ", NOW)
        .await
        .expect("token");
    assert_eq!(token.len(), 64);
    assert_eq!(info.user_id, "crm");
    assert_eq!(info.name, "CRM sync");
    assert_eq!(info.prefix, &token[..8]);
    assert_eq!(info.created_at, NOW);
    assert_eq!((info.last_used_at, info.revoked_at), (None, None));
    let (token2, info2) = auth::create_api_token(&store, "crm", "backup", NOW)
        .await
        .expect("second token");
    assert_ne!(token, token2);

    // Stored hashed: the raw token appears in no column.
    let rows = sqlx::query("SELECT user_id, name, token_hash, prefix FROM api_tokens")
        .fetch_all(kefu_store::testing::pool(&store))
        .await
        .expect("rows");
    assert_eq!(rows.len(), 2);
    for row in &rows {
        for col in ["user_id", "name", "token_hash", "prefix"] {
            let v: String = row.get(col);
            assert!(!v.contains(&token) && !v.contains(&token2), "{col}: {v}");
        }
    }
    let hashes: Vec<String> = rows.iter().map(|r| r.get("token_hash")).collect();
    assert!(hashes.contains(&auth::token_hash(&token)));

    // Works, and records use at most once a minute.
    let p = auth::principal_for_token(&store, &token, NOW + 1_000)
        .await
        .expect("lookup")
        .expect("valid token");
    assert_eq!(
        (p.user_id.as_str(), p.role, p.team.as_deref()),
        ("crm", Role::Supervisor, Some("一组"))
    );
    let last_used = |store: Store, id: i64| async move {
        auth::list_tokens(&store, "crm")
            .await
            .expect("list")
            .into_iter()
            .find(|t| t.id == id)
            .expect("listed")
            .last_used_at
    };
    assert_eq!(last_used(store.clone(), info.id).await, Some(NOW + 1_000));
    auth::principal_for_token(&store, &token, NOW + 30_000)
        .await
        .expect("lookup")
        .expect("valid");
    assert_eq!(
        last_used(store.clone(), info.id).await,
        Some(NOW + 1_000),
        "not rewritten within a minute"
    );
    let later = NOW + 1_000 + TOKEN_TOUCH_INTERVAL_MS;
    auth::principal_for_token(&store, &token, later)
        .await
        .expect("lookup")
        .expect("valid");
    assert_eq!(last_used(store.clone(), info.id).await, Some(later));
    assert_eq!(last_used(store.clone(), info2.id).await, None);

    // Garbage and session-shaped lookups find nothing.
    for bogus in ["", "Bearer", &token.to_uppercase()[..10], &"f".repeat(64)] {
        assert!(auth::principal_for_token(&store, bogus, NOW)
            .await
            .expect("lookup")
            .is_none());
    }

    // Only the owner's id revokes; revocation is immediate and sticks.
    assert!(matches!(
        auth::revoke_token(&store, "other", info.id, NOW).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        auth::revoke_token(&store, "crm", 999_999, NOW).await,
        Err(Error::NotFound(_))
    ));
    auth::revoke_token(&store, "crm", info.id, later + 5)
        .await
        .expect("revoke");
    auth::revoke_token(&store, "crm", info.id, later + 99)
        .await
        .expect("revoke again");
    assert!(auth::principal_for_token(&store, &token, later + 10)
        .await
        .expect("lookup")
        .is_none());
    assert!(auth::principal_for_token(&store, &token2, later + 10)
        .await
        .expect("lookup")
        .is_some());
    let listed = auth::list_tokens(&store, "crm").await.expect("list");
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].id, info2.id, "newest first");
    assert_eq!(
        listed[1].revoked_at,
        Some(later + 5),
        "first revocation kept"
    );
    assert!(auth::list_tokens(&store, "other")
        .await
        .expect("list")
        .is_empty());

    // Inactive users' tokens stop working; no tokens for unknown users.
    auth::set_active(&store, "crm", false)
        .await
        .expect("deactivate");
    assert!(auth::principal_for_token(&store, &token2, later + 10)
        .await
        .expect("lookup")
        .is_none());
    assert!(matches!(
        auth::create_api_token(&store, "ghost", "x", NOW).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        auth::create_api_token(&store, "other", "  ", NOW).await,
        Err(Error::Invalid(_))
    ));
});

#[test]
fn roles_parse_print_and_serialise() {
    for role in Role::ALL {
        assert_eq!(role.as_str().parse::<Role>().expect("parse"), role);
        assert_eq!(role.label_zh().parse::<Role>().expect("parse zh"), role);
        assert_eq!(
            serde_json::to_string(&role).expect("ser"),
            format!("\"{}\"", role.as_str())
        );
        assert_eq!(role.to_string(), role.as_str());
    }
    assert_eq!(Role::Inspector.label_zh(), "质检员");
    assert_eq!("ADMIN".parse::<Role>().expect("case"), Role::Admin);
    assert!(matches!("root".parse::<Role>(), Err(Error::Invalid(_))));
    assert_eq!(
        serde_json::from_str::<Role>("\"supervisor\"").expect("de"),
        Role::Supervisor
    );
    assert_eq!(Role::default(), Role::Agent);
}

#[test]
fn access_rules() {
    let agent = principal("a-07", Role::Agent);
    let inspector = principal("q-01", Role::Inspector);
    let supervisor = principal("s-01", Role::Supervisor);
    let admin = principal("boss", Role::Admin);

    assert!(auth::can_read_agent_data(&agent, "a-07"));
    assert!(!auth::can_read_agent_data(&agent, "a-08"));
    assert!(!auth::can_read_agent_data(&agent, "a-0"));
    for p in [&inspector, &supervisor, &admin] {
        assert!(auth::can_read_agent_data(p, "a-07"));
        assert!(auth::can_read_agent_data(p, "a-08"));
    }

    let table = [
        // settings, users, personal data
        (&agent, false, false, false),
        (&inspector, false, false, false),
        (&supervisor, true, false, true),
        (&admin, true, true, true),
    ];
    for (p, settings, users, personal) in table {
        assert_eq!(auth::can_change_settings(p), settings, "{p:?}");
        assert_eq!(auth::can_manage_users(p), users, "{p:?}");
        assert_eq!(auth::sees_personal_data(p), personal, "{p:?}");
    }
}

#[test]
fn owasp_cost_is_the_default() {
    assert_eq!(PasswordCost::default(), PasswordCost::OWASP);
    assert_eq!(
        (
            PasswordCost::OWASP.memory_kib,
            PasswordCost::OWASP.iterations,
            PasswordCost::OWASP.parallelism
        ),
        (19_456, 2, 1)
    );
    let hash = auth::hash_password("correct horse", PasswordCost::OWASP).expect("hash");
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(matches!(
        auth::set_password_cost(PasswordCost {
            memory_kib: 1,
            iterations: 0,
            parallelism: 1
        }),
        Err(Error::Invalid(_))
    ));
}
