//! The customer list's name search through the name grams (migration 0023):
//! whichever way a search is answered — from its rarest gram, or by reading
//! names in list order when every gram is common — it finds exactly the
//! customers whose names contain the text, and the triggers keep the grams
//! right as customers are added, renamed and deleted.

use kefu_store::customers::{CustomerFilter, CustomerListKey};
use kefu_store::{both_backends, Backend, Store};

const A: [char; 17] = [
    '伟', '芳', '娜', '敏', '静', '丽', '强', '磊', '军', '洋', '勇', '艳', '杰', '娟', '涛', '明',
    '超',
];
const B: [char; 23] = [
    '一', '二', '三', '四', '五', '六', '七', '八', '九', '十', '甲', '乙', '丙', '丁', '戊', '己',
    '庚', '辛', '壬', '癸', '东', '南', '西',
];
const C: [char; 11] = [
    '鑫', '淼', '森', '晶', '垚', '焱', '犇', '哈', '嘻', '呵', '嘿',
];

/// More customers than a common gram's threshold share the first character.
const SEEDED: usize = 10_500;

fn seeded_name(i: usize) -> String {
    let mut name = format!("客{}{}", A[i % 17], B[(i / 17) % 23]);
    if i.is_multiple_of(5) {
        name.push(C[i % 11]);
    }
    name
}

/// Writes the customers straight into the table in one transaction (the
/// triggers fire as for any insert).
async fn seed(store: &Store, named: &[(String, String)]) {
    let mut tx = kefu_store::testing::pool(store)
        .begin()
        .await
        .expect("begin");
    for (id, name) in named {
        sqlx::query(
            "INSERT INTO customers (id, name, owner_id, grade, grade_manual, profile, \
             do_not_disturb, last_contact_at, next_due_at, merged_into, created_at, updated_at, \
             version) VALUES ($1, $2, NULL, 'B', 0, '{}', 0, NULL, NULL, NULL, 0, 0, 1)",
        )
        .bind(id)
        .bind(name)
        .execute(&mut *tx)
        .await
        .expect("seed");
    }
    tx.commit().await.expect("commit");
}

/// Every customer the list finds for `q`, by walking its pages.
async fn found(store: &Store, q: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after: Option<CustomerListKey> = None;
    loop {
        let page = store
            .list_customers(&CustomerFilter {
                q: Some(q.into()),
                limit: Some(1000),
                after: after.clone(),
                ..Default::default()
            })
            .await
            .expect("page");
        ids.extend(page.rows.iter().map(|r| r.id.clone()));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    ids.sort();
    ids
}

/// What `LIKE '%q%'` finds (without `%` and `_`): ASCII case folded on
/// SQLite, exact on PostgreSQL.
fn expected(backend: Backend, names: &[(String, String)], q: &str) -> Vec<String> {
    let needle = q.trim().replace(['%', '_'], "");
    let fold = |s: &str| match backend {
        Backend::Sqlite => s.to_ascii_lowercase(),
        Backend::Postgres => s.to_string(),
    };
    let mut ids: Vec<String> = names
        .iter()
        .filter(|(_, name)| fold(name).contains(&fold(&needle)))
        .map(|(id, _)| id.clone())
        .collect();
    ids.sort();
    ids
}

async fn grams_of(store: &Store, id: &str) -> Vec<String> {
    let mut grams: Vec<String> =
        sqlx::query_scalar("SELECT gram FROM customer_name_grams WHERE customer_id = $1")
            .bind(id)
            .fetch_all(kefu_store::testing::pool(store))
            .await
            .expect("grams");
    grams.sort();
    grams
}

both_backends!(
    name_search_finds_what_like_finds,
    |store: Store| async move {
        let backend = store.backend();
        let mut names: Vec<(String, String)> = (0..SEEDED)
            .map(|i| (format!("n-{i:05}"), seeded_name(i)))
            .collect();
        let long = format!("{}尾巴XYZ", "长".repeat(1_100));
        for (id, name) in [
            ("x-alice", "Alice Wong"),
            ("x-haha", "哈哈哈"),
            ("x-long", long.as_str()),
            ("x-rename", "旧名字"),
            ("x-gone", "将删除"),
            ("x-empty", ""),
        ] {
            names.push((id.into(), name.into()));
        }
        seed(&store, &names).await;
        assert_eq!(
            grams_of(&store, "x-haha").await,
            vec!["哈".to_string(), "哈哈".to_string()],
            "each gram once"
        );
        // The triggers follow a rename and a delete.
        let pool = kefu_store::testing::pool(&store);
        sqlx::query("UPDATE customers SET name = $1 WHERE id = $2")
            .bind("新名字Q")
            .bind("x-rename")
            .execute(pool)
            .await
            .expect("rename");
        sqlx::query("DELETE FROM customers WHERE id = $1")
            .bind("x-gone")
            .execute(pool)
            .await
            .expect("delete");
        names.retain(|(id, _)| id != "x-gone");
        if let Some(n) = names.iter_mut().find(|(id, _)| id == "x-rename") {
            n.1 = "新名字Q".into();
        }
        let q_gram = if backend == Backend::Sqlite { "q" } else { "Q" };
        assert_eq!(
            grams_of(&store, "x-rename").await,
            vec![
                q_gram.to_string(),
                "名字".into(),
                "字".to_string() + q_gram,
                "新名".into()
            ]
        );
        assert!(grams_of(&store, "x-gone").await.is_empty());

        let pair = format!("{}{}", A[3], B[5]);
        let searches = [
            "客".to_string(),             // common: read in list order
            format!("客{}", A[3]),        // common first pair, rarer second
            A[3].to_string(),             // one character, rarer
            pair.clone(),                 // a pair
            format!("{pair}{}", C[0]),    // three characters
            format!(" {pair} "),          // trimmed
            format!("{}%{}", A[3], B[5]), // LIKE's wildcards are dropped
            format!("_{}", C[7]),
            "哈哈".into(),
            "哈".into(),
            "alice".into(),
            "Alice W".into(),
            "ce W".into(),
            "尾巴xyz".into(), // beyond the 1,000th character
            "长长长".into(),
            "旧名".into(), // renamed away
            "名字q".into(),
            "将删除".into(), // deleted
            "不存在".into(),
            "%".into(),
        ];
        for q in &searches {
            let want = expected(backend, &names, q);
            assert_eq!(found(&store, q).await, want, "search {q:?}");
        }
        // The capped count follows the same condition.
        let page = store
            .list_customers(&CustomerFilter {
                q: Some(pair.clone()),
                limit: Some(5),
                ..Default::default()
            })
            .await
            .expect("page");
        assert_eq!(page.total, expected(backend, &names, &pair).len() as i64);
    }
);
