//! Storing a new complaint with its first history entries
//! ([`Tx::insert_complaint_with_history`]), one statement on PostgreSQL.

use kefu_store::{both_backends, ComplaintRow, HistoryRow, SlaColumns, Store};

fn complaint(id: &str) -> ComplaintRow {
    ComplaintRow {
        id: id.into(),
        version: 1,
        state: "new",
        priority: "normal",
        special: false,
        assignee_kind: None,
        assignee_id: None,
        customer_id: None,
        customer_name: "客户".into(),
        channel: "phone".into(),
        category: "计费".into(),
        description: "话费多扣".into(),
        conversation_id: None,
        created_by: "a1".into(),
        reopen_count: 0,
        doc: "{}".into(),
        opened_at: 1_000,
        updated_at: 1_000,
        first_reply_at: None,
        resolved_at: None,
        closed_at: None,
        waiting_since: None,
        sla: SlaColumns {
            reply_sla: "running",
            resolve_sla: "running",
            sla_state: "ok",
            ..SlaColumns::default()
        },
    }
}

fn entry(id: &str, kind: &str, at: i64, to_state: Option<&str>) -> HistoryRow {
    HistoryRow {
        id: 0,
        complaint_id: id.into(),
        at,
        actor_id: "a1".into(),
        actor_role: "agent".into(),
        kind: kind.into(),
        from_state: None,
        to_state: to_state.map(str::to_string),
        detail: r#"{"note":"它's \"quoted\""}"#.into(),
    }
}

both_backends!(
    a_new_complaint_is_stored_with_its_history_or_not_at_all,
    |store: Store| async move {
        let mut tx = store.write().await.expect("write");
        let first = [
            entry("C-1", "created", 1_000, Some("new")),
            entry("C-1", "assigned", 1_001, None),
            entry("C-1", "note", 1_002, None),
        ];
        assert!(tx
            .insert_complaint_with_history(&complaint("C-1"), &first)
            .await
            .expect("insert"));
        // The id is taken: neither the complaint nor its entries change.
        let again = [entry("C-1", "created", 9_000, Some("new"))];
        assert!(!tx
            .insert_complaint_with_history(&complaint("C-1"), &again)
            .await
            .expect("insert again"));
        // Without entries it is a plain insert.
        assert!(tx
            .insert_complaint_with_history(&complaint("C-2"), &[])
            .await
            .expect("insert without history"));
        tx.commit().await.expect("commit");

        let mut tx = store.read().await.expect("read");
        let stored = tx.complaint_history("C-1").await.expect("history");
        // What was given, as stored (the row id is the store's).
        let fields = |h: &HistoryRow| (h.kind.clone(), h.at, h.to_state.clone(), h.detail.clone());
        let got: Vec<_> = stored.iter().map(fields).collect();
        let want: Vec<_> = first.iter().map(fields).collect();
        assert_eq!(got, want, "entries in order, as given");
        assert!(tx
            .complaint_history("C-2")
            .await
            .expect("history")
            .is_empty());
    }
);
