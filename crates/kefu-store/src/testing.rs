//! Test databases (feature `testing`): a fresh SQLite file, or a fresh
//! PostgreSQL database on the server named by `KEFU_TEST_PG_URL`, removed
//! again when dropped. Shared by the test suites of every crate.

use crate::Store;

/// Environment variable naming a PostgreSQL server for tests.
pub const PG_URL_VAR: &str = "KEFU_TEST_PG_URL";

/// The store's connection pool, for tests that read or tamper with rows
/// directly (append-only triggers, stored hashes). Nothing else reaches it.
pub fn pool(store: &Store) -> &sqlx::AnyPool {
    store.pool()
}

/// A database that exists for one test.
pub struct TestDb {
    /// URL to open it with.
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    File(std::path::PathBuf),
    Postgres { admin_url: String, name: String },
}

fn remove_sqlite(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

impl TestDb {
    /// A fresh SQLite file in the temporary directory.
    pub fn sqlite(name: &str) -> TestDb {
        let path = std::env::temp_dir().join(format!("kefu-test-{}-{name}.db", std::process::id()));
        remove_sqlite(&path);
        TestDb {
            url: format!("sqlite://{}", path.display()),
            cleanup: Cleanup::File(path),
        }
    }

    /// A fresh PostgreSQL database, or `None` (with a printed notice) when
    /// `KEFU_TEST_PG_URL` is unset.
    pub async fn postgres(name: &str) -> Option<TestDb> {
        let Ok(admin_url) = std::env::var(PG_URL_VAR) else {
            eprintln!("{PG_URL_VAR} is not set: skipping the PostgreSQL run of `{name}`");
            return None;
        };
        let db = format!("kefu_test_{}_{name}", std::process::id());
        let admin = Store::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {PG_URL_VAR}: {e}"));
        for sql in [
            format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
            format!("CREATE DATABASE {db}"),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(pool(&admin))
                .await
                .unwrap_or_else(|e| panic!("cannot prepare test database {db}: {e}"));
        }
        admin.close().await;
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(b, _)| b);
        Some(TestDb {
            url: format!("{base}/{db}"),
            cleanup: Cleanup::Postgres {
                admin_url,
                name: db,
            },
        })
    }

    /// Opens (and migrates) the database.
    pub async fn open(&self) -> Store {
        Store::open(&self.url)
            .await
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", self.url))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(p) => remove_sqlite(p),
            Cleanup::Postgres { admin_url, name } => {
                let (admin_url, name) = (admin_url.clone(), name.clone());
                // Drop may run inside a runtime: do the async work on a thread
                // of its own.
                let _ = std::thread::spawn(move || {
                    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    else {
                        return;
                    };
                    rt.block_on(async {
                        if let Ok(admin) = Store::connect(&admin_url).await {
                            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                            let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                                .execute(pool(&admin))
                                .await;
                            admin.close().await;
                        }
                    });
                })
                .join();
            }
        }
    }
}

/// Runs an async test body against SQLite and, when `KEFU_TEST_PG_URL` is
/// set, PostgreSQL. The body is a closure `|store: Store| async move { … }`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let db = $crate::testing::TestDb::sqlite(stringify!($name));
            let store = db.open().await;
            ($body)(store.clone()).await;
            store.close().await;
            if let Some(db) = $crate::testing::TestDb::postgres(stringify!($name)).await {
                let store = db.open().await;
                ($body)(store.clone()).await;
                store.close().await;
            }
        }
    };
}
