//! Tests of the complaint lifecycle through the public API.

use chrono::{DateTime, Duration, TimeZone, Utc};
use kefu_service::complaint::*;
use serde_json::json;

type Result<T> = std::result::Result<T, ComplaintError>;

fn at(day: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, day, h, m, 0)
        .single()
        .expect("valid test time")
}

fn t0() -> DateTime<Utc> {
    at(3, 9, 0)
}

fn agent(id: &str) -> Actor {
    Actor::new(id, ActorRole::Agent)
}

fn supervisor() -> Actor {
    Actor::new("s1", ActorRole::Supervisor)
}

fn admin() -> Actor {
    Actor::new("root", ActorRole::Admin)
}

fn inspector() -> Actor {
    Actor::new("q1", ActorRole::Inspector)
}

fn input() -> NewComplaint {
    let mut input = NewComplaint::new(
        "c1",
        Customer {
            id: Some("cust-9".into()),
            name: "张三".into(),
            phone: Some("13812345678".into()),
            id_number: Some("110101199001011234".into()),
        },
        "phone",
        "billing",
        "本月话费多扣了 30 元",
    );
    input.conversation_id = Some("conv-1".into());
    input.key_facts = vec![
        KeyFact::new(KeyFactKind::Time, "3月1日下午"),
        KeyFact::new(KeyFactKind::Evidence, "rec-0042"),
    ];
    input.assignee = Some(Assignee::Agent("a1".into()));
    input
}

/// A complaint in 受理, opened by a supervisor, assigned to agent a1.
fn opened() -> Complaint {
    let (c, _) = new_complaint(input(), &supervisor(), t0()).expect("opens");
    c
}

fn run(c: &Complaint, actor: &Actor, cmd: Command, now: DateTime<Utc>) -> Complaint {
    let (next, events, _) = apply(c, actor, cmd.clone(), now)
        .unwrap_or_else(|e| panic!("{cmd:?} in {} failed: {e}", c.state));
    assert_eq!(events.len(), 1);
    next
}

fn resolve() -> Command {
    Command::Resolve {
        summary: "退还 30 元".into(),
    }
}

fn close() -> Command {
    Command::Close {
        reason: "客户确认已解决".into(),
    }
}

fn reopen(to: ReopenTarget) -> Command {
    Command::Reopen {
        reason: "客户再次来电".into(),
        to,
    }
}

fn survey(result_score: u8, attitude_score: u8) -> Command {
    Command::RecordSurvey {
        result_score,
        attitude_score,
        comment: None,
    }
}

fn investigating() -> Complaint {
    run(&opened(), &agent("a1"), Command::Investigate, at(3, 9, 10))
}

fn handling() -> Complaint {
    run(
        &investigating(),
        &agent("a1"),
        Command::StartHandling,
        at(3, 9, 20),
    )
}

fn resolved() -> Complaint {
    run(&handling(), &agent("a1"), resolve(), at(3, 10, 0))
}

fn awaiting_follow_up() -> Complaint {
    run(
        &resolved(),
        &agent("a1"),
        Command::RequestFollowUp,
        at(3, 10, 5),
    )
}

fn closed() -> Complaint {
    run(&resolved(), &agent("a1"), close(), at(3, 11, 0))
}

fn err(c: &Complaint, actor: &Actor, cmd: Command) -> ComplaintError {
    match apply(c, actor, cmd.clone(), at(4, 9, 0)) {
        Ok(_) => panic!("{cmd:?} in {} by {:?} should fail", c.state, actor.role),
        Err(e) => e,
    }
}

// ---------------------------------------------------------------------------
// Creation
// ---------------------------------------------------------------------------

#[test]
fn new_complaint_starts_accepted_at_version_1_with_a_created_event() {
    let (c, events) = new_complaint(input(), &supervisor(), t0()).expect("opens");
    assert_eq!(c.state, ComplaintState::Accepted);
    assert_eq!(c.version, 1);
    assert_eq!(c.opened_at, t0());
    assert_eq!(c.updated_at, t0());
    assert_eq!(c.created_by, "s1");
    assert_eq!(c.key_facts.len(), 2);
    assert_eq!(c.priority, Priority::Normal);
    assert!(!c.special);
    assert!(c.first_reply_at.is_none() && c.resolved_at.is_none() && c.closed_at.is_none());
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.kind, HistoryKind::Created);
    assert_eq!(e.from_state, None);
    assert_eq!(e.to_state, Some(ComplaintState::Accepted));
    assert_eq!(e.actor_id, "s1");
    assert_eq!(e.actor_role, ActorRole::Supervisor);
    assert_eq!(e.complaint_id, "c1");
    assert_eq!(e.detail["assignee"], json!({"kind": "agent", "id": "a1"}));
    // No personal data in the history.
    let text = e.detail.to_string();
    assert!(!text.contains("13812345678") && !text.contains("张三"));
}

#[test]
fn new_complaint_validates_its_input() {
    type Mutation = fn(&mut NewComplaint);
    let cases: Vec<(Mutation, &str)> = vec![
        (|i| i.id = " ".into(), "id"),
        (|i| i.customer.name = "".into(), "customer name"),
        (|i| i.customer.name = "  \t".into(), "customer name"),
        (|i| i.description = "   ".into(), "description"),
        (|i| i.channel = "".into(), "channel"),
        (|i| i.category = "".into(), "category"),
        (|i| i.description = "a\0b".into(), "description"),
        (
            |i| i.description = "长".repeat(MAX_TEXT_CHARS + 1),
            "description",
        ),
        (
            |i| i.customer.phone = Some("call me".into()),
            "customer phone",
        ),
        (
            |i| i.key_facts.push(KeyFact::new(KeyFactKind::Place, " ")),
            "key fact",
        ),
        (
            |i| i.assignee = Some(Assignee::Group("".into())),
            "assignee id",
        ),
    ];
    for (mutate, field) in cases {
        let mut i = input();
        mutate(&mut i);
        match new_complaint(i, &supervisor(), t0()) {
            Err(e @ ComplaintError::Invalid { .. }) => {
                assert_eq!(e.class(), ErrorClass::Invalid);
                assert!(
                    matches!(&e, ComplaintError::Invalid { field: f, .. } if *f == field),
                    "expected {field}, got {e}"
                );
            }
            other => panic!("expected invalid {field}, got {other:?}"),
        }
    }
}

#[test]
fn new_complaint_trims_and_drops_blank_optionals() {
    let mut i = input();
    i.customer.name = "  张三 ".into();
    i.customer.phone = Some("   ".into());
    i.customer.id_number = Some(String::new());
    i.conversation_id = Some(" ".into());
    i.description = "\n 多扣费 \n".into();
    let (c, _) = new_complaint(i, &supervisor(), t0()).expect("opens");
    assert_eq!(c.customer.name, "张三");
    assert_eq!(c.customer.phone, None);
    assert_eq!(c.customer.id_number, None);
    assert_eq!(c.conversation_id, None);
    assert_eq!(c.description, "多扣费");
}

#[test]
fn new_complaint_role_rules() {
    // Agents default to themselves.
    let mut i = input();
    i.assignee = None;
    let (c, _) = new_complaint(i, &agent("a7"), t0()).expect("agent opens");
    assert_eq!(c.assignee, Some(Assignee::Agent("a7".into())));

    // Agents may route to a group…
    let mut i = input();
    i.assignee = Some(Assignee::Group("desk".into()));
    let (c, _) = new_complaint(i, &agent("a7"), t0()).expect("agent routes");
    assert_eq!(c.assignee, Some(Assignee::Group("desk".into())));

    // …but not to another agent.
    let e = new_complaint(input(), &agent("a7"), t0()).expect_err("a1 is not a7");
    assert!(matches!(e, ComplaintError::Forbidden { .. }), "{e}");
    assert_eq!(e.class(), ErrorClass::Forbidden);

    // Inspectors do not open complaints.
    let e = new_complaint(input(), &inspector(), t0()).expect_err("inspector");
    assert!(matches!(e, ComplaintError::Forbidden { .. }), "{e}");

    // Supervisors may leave it unassigned.
    let mut i = input();
    i.assignee = None;
    let (c, _) = new_complaint(i, &admin(), t0()).expect("admin opens");
    assert_eq!(c.assignee, None);
}

// ---------------------------------------------------------------------------
// Transitions
// ---------------------------------------------------------------------------

#[test]
fn every_allowed_transition() {
    use ComplaintState as S;
    let sup = supervisor();
    let cases: Vec<(&str, Complaint, Command, S)> = vec![
        (
            "investigate",
            opened(),
            Command::Investigate,
            S::Investigating,
        ),
        (
            "accepted → handling",
            opened(),
            Command::StartHandling,
            S::Handling,
        ),
        (
            "investigating → handling",
            investigating(),
            Command::StartHandling,
            S::Handling,
        ),
        ("resolve stays handling", handling(), resolve(), S::Handling),
        (
            "request follow-up",
            resolved(),
            Command::RequestFollowUp,
            S::AwaitingFollowUp,
        ),
        ("close resolved handling", resolved(), close(), S::Closed),
        (
            "close after follow-up",
            awaiting_follow_up(),
            close(),
            S::Closed,
        ),
        ("close accepted (withdrawn)", opened(), close(), S::Closed),
        ("close investigating", investigating(), close(), S::Closed),
        ("close unresolved handling", handling(), close(), S::Closed),
        (
            "reopen closed → handling",
            closed(),
            reopen(ReopenTarget::Handling),
            S::Handling,
        ),
        (
            "reopen closed → investigating",
            closed(),
            reopen(ReopenTarget::Investigating),
            S::Investigating,
        ),
        (
            "reopen follow-up → handling",
            awaiting_follow_up(),
            reopen(ReopenTarget::Handling),
            S::Handling,
        ),
        (
            "reopen follow-up → investigating",
            awaiting_follow_up(),
            reopen(ReopenTarget::Investigating),
            S::Investigating,
        ),
    ];
    for (name, c, cmd, to) in cases {
        let now = at(5, 12, 0);
        let kind = cmd.kind();
        let (next, events, _) = apply(&c, &sup, cmd, now).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(next.state, to, "{name}");
        assert_eq!(next.version, c.version + 1, "{name}");
        assert_eq!(next.updated_at, now, "{name}");
        assert_eq!(events.len(), 1, "{name}");
        let e = &events[0];
        assert_eq!(e.from_state, Some(c.state), "{name}");
        assert_eq!(e.to_state, Some(to), "{name}");
        assert_eq!(e.kind, kind.history_kind(), "{name}");
        assert_eq!(e.at, now, "{name}");
        assert_eq!(e.actor_id, "s1", "{name}");
        assert!(e.detail.is_object(), "{name}");
        // The input complaint is untouched.
        assert_ne!(c, next, "{name}");
    }
}

#[test]
fn close_sets_closed_at_and_reason() {
    let c = closed();
    assert_eq!(c.closed_at, Some(at(3, 11, 0)));
    assert_eq!(c.close_reason.as_deref(), Some("客户确认已解决"));
    assert!(c.is_resolved());
    assert!(!c.is_open());
}

#[test]
fn forbidden_transitions_are_refused_with_clear_errors() {
    let sup = supervisor();
    let e = err(&closed(), &sup, resolve());
    assert_eq!(e.to_string(), "cannot resolve a complaint in state 已关闭");
    assert_eq!(
        e,
        ComplaintError::InvalidTransition {
            action: "resolve",
            state: ComplaintState::Closed
        }
    );
    assert_eq!(e.class(), ErrorClass::Conflict);

    let transitions = [
        (handling(), Command::Investigate),
        (closed(), Command::Investigate),
        (awaiting_follow_up(), Command::StartHandling),
        (closed(), Command::StartHandling),
        (opened(), resolve()),
        (investigating(), resolve()),
        (awaiting_follow_up(), resolve()),
        (opened(), Command::RequestFollowUp),
        (awaiting_follow_up(), Command::RequestFollowUp),
        (closed(), close()),
        (opened(), reopen(ReopenTarget::Handling)),
        (handling(), reopen(ReopenTarget::Handling)),
        (
            closed(),
            Command::Reply {
                message: "您好".into(),
            },
        ),
        (
            awaiting_follow_up(),
            Command::WaitOnCustomer { reason: None },
        ),
        (
            closed(),
            Command::Assign {
                assignee: Assignee::Agent("a2".into()),
            },
        ),
        (
            closed(),
            Command::SetPriority {
                priority: Priority::High,
            },
        ),
        (closed(), Command::MarkSpecial { special: true }),
        (opened(), survey(9, 9)),
    ];
    for (c, cmd) in transitions {
        let e = err(&c, &sup, cmd.clone());
        assert!(
            matches!(e, ComplaintError::InvalidTransition { state, .. } if state == c.state),
            "{cmd:?} in {}: {e}",
            c.state
        );
    }

    // Allowed states but unmet conditions.
    let preconditions = [
        (resolved(), resolve(), "it is already resolved"),
        (handling(), Command::RequestFollowUp, "not been resolved"),
        (handling(), survey(9, 9), "not been resolved"),
        (
            resolved(),
            Command::WaitOnCustomer { reason: None },
            "already resolved",
        ),
        (handling(), Command::CustomerResponded, "not waiting"),
    ];
    for (c, cmd, msg) in preconditions {
        let e = err(&c, &sup, cmd.clone());
        assert!(
            matches!(e, ComplaintError::Precondition { .. }) && e.to_string().contains(msg),
            "{cmd:?}: {e}"
        );
    }
}

#[test]
fn the_transition_table_is_enforced_for_every_state_and_command() {
    let samples = [
        opened(),
        investigating(),
        handling(),
        awaiting_follow_up(),
        closed(),
    ];
    for c in &samples {
        for &kind in CommandKind::ALL {
            let r = check_permitted(c, &admin(), kind);
            if !kind.allowed_states().contains(&c.state) {
                assert_eq!(
                    r,
                    Err(ComplaintError::InvalidTransition {
                        action: kind.verb(),
                        state: c.state
                    })
                );
            } else if let Err(e) = r {
                assert!(
                    matches!(e, ComplaintError::Precondition { .. }),
                    "{kind} in {}: {e}",
                    c.state
                );
            }
        }
    }
    assert_eq!(
        CommandKind::AddNote.allowed_states(),
        ComplaintState::ALL,
        "notes are always allowed"
    );
}

#[test]
fn reopen_increments_count_and_clears_the_resolution() {
    let c = run(&opened(), &agent("a1"), Command::StartHandling, at(3, 9, 5));
    let c = run(
        &c,
        &agent("a1"),
        Command::Reply {
            message: "您好，已收到".into(),
        },
        at(3, 9, 30),
    );
    let c = run(&c, &agent("a1"), resolve(), at(3, 10, 0));
    let c = run(&c, &agent("a1"), survey(9, 9), at(3, 10, 1));
    let c = run(&c, &agent("a1"), close(), at(3, 10, 2));
    assert!(c.survey.is_some());

    let (r, events, _) = apply(
        &c,
        &supervisor(),
        reopen(ReopenTarget::Handling),
        at(4, 8, 0),
    )
    .expect("reopens");
    assert_eq!(r.reopen_count, 1);
    assert_eq!(r.state, ComplaintState::Handling);
    assert_eq!(r.resolved_at, None);
    assert_eq!(r.resolved_by, None);
    assert_eq!(r.resolution, None);
    assert_eq!(r.closed_at, None);
    assert_eq!(r.close_reason, None);
    assert_eq!(r.survey, None);
    assert_eq!(r.first_reply_at, Some(at(3, 9, 30)), "first reply is kept");
    assert_eq!(events[0].kind, HistoryKind::Reopened);
    assert_eq!(events[0].detail["reopen_count"], json!(1));
    assert_eq!(events[0].detail["previous_resolution"], json!("退还 30 元"));

    // Resolve and close again, reopen again: 2.
    let r = run(&r, &agent("a1"), resolve(), at(4, 9, 0));
    let r = run(&r, &agent("a1"), survey(3, 9), at(4, 9, 1));
    let r = run(&r, &agent("a1"), close(), at(4, 9, 2));
    let r = run(
        &r,
        &admin(),
        reopen(ReopenTarget::Investigating),
        at(4, 10, 0),
    );
    assert_eq!(r.reopen_count, 2);
    assert_eq!(r.state, ComplaintState::Investigating);
}

#[test]
fn first_reply_is_set_only_once() {
    let a1 = agent("a1");
    let c = run(
        &opened(),
        &a1,
        Command::Reply {
            message: "您好".into(),
        },
        at(3, 9, 5),
    );
    assert_eq!(c.first_reply_at, Some(at(3, 9, 5)));
    let (c2, events, _) = apply(
        &c,
        &a1,
        Command::Reply {
            message: "补充说明".into(),
        },
        at(3, 9, 50),
    )
    .expect("second reply");
    assert_eq!(c2.first_reply_at, Some(at(3, 9, 5)));
    assert_eq!(events[0].detail["first"], json!(false));
    assert_eq!(c2.state, ComplaintState::Accepted, "replies do not move");
    let e = err(
        &c2,
        &a1,
        Command::Reply {
            message: "  ".into(),
        },
    );
    assert!(matches!(
        e,
        ComplaintError::Invalid {
            field: "message",
            ..
        }
    ));
}

// ---------------------------------------------------------------------------
// Waiting on the customer
// ---------------------------------------------------------------------------

#[test]
fn wait_and_respond_make_a_closed_pause() {
    let a1 = agent("a1");
    let c = handling();
    let (w, events, _) = apply(
        &c,
        &a1,
        Command::WaitOnCustomer {
            reason: Some("等客户提供发票".into()),
        },
        at(3, 12, 0),
    )
    .expect("waits");
    assert_eq!(w.waiting_since, Some(at(3, 12, 0)));
    assert!(w.is_waiting());
    assert_eq!(w.state, ComplaintState::Handling);
    assert_eq!(events[0].kind, HistoryKind::WaitingOnCustomer);
    assert_eq!(w.paused_duration(at(3, 13, 0)), Duration::hours(1));

    let e = err(&w, &a1, Command::WaitOnCustomer { reason: None });
    assert!(e.to_string().contains("already waiting"), "{e}");

    let (r, events, _) =
        apply(&w, &a1, Command::CustomerResponded, at(3, 14, 30)).expect("responds");
    assert_eq!(r.waiting_since, None);
    assert_eq!(
        r.pauses,
        vec![CustomerWait {
            start: at(3, 12, 0),
            end: at(3, 14, 30)
        }]
    );
    assert_eq!(events[0].detail["paused_seconds"], json!(9000));
    assert_eq!(r.paused_duration(at(5, 0, 0)), Duration::minutes(150));

    // A second pause adds up.
    let r = run(
        &r,
        &a1,
        Command::WaitOnCustomer { reason: None },
        at(3, 15, 0),
    );
    let r = run(&r, &a1, Command::CustomerResponded, at(3, 15, 30));
    assert_eq!(r.pauses.len(), 2);
    assert_eq!(r.paused_duration(at(5, 0, 0)), Duration::minutes(180));
}

#[test]
fn a_pause_survives_moves_between_active_states_and_ends_on_resolve_or_close() {
    let a1 = agent("a1");
    let w = run(
        &opened(),
        &a1,
        Command::WaitOnCustomer { reason: None },
        at(3, 9, 30),
    );
    let w = run(&w, &a1, Command::Investigate, at(3, 9, 40));
    assert!(w.is_waiting(), "investigating keeps the pause open");
    let w = run(&w, &a1, Command::StartHandling, at(3, 9, 50));
    assert!(w.is_waiting());

    let (r, events, _) = apply(&w, &a1, resolve(), at(3, 10, 30)).expect("resolves");
    assert!(!r.is_waiting());
    assert_eq!(
        r.pauses.last().map(CustomerWait::duration),
        Some(Duration::hours(1))
    );
    assert!(events[0].detail["pause_ended"].is_object());

    let w = run(
        &handling(),
        &a1,
        Command::WaitOnCustomer { reason: None },
        at(3, 9, 30),
    );
    let c = run(&w, &supervisor(), close(), at(3, 10, 0));
    assert!(!c.is_waiting());
    assert_eq!(c.pauses.len(), 1);
}

#[test]
fn a_pause_never_ends_before_it_starts() {
    let a1 = agent("a1");
    let w = run(
        &handling(),
        &a1,
        Command::WaitOnCustomer { reason: None },
        at(3, 12, 0),
    );
    // Another server's clock is a little behind.
    let r = run(&w, &a1, Command::CustomerResponded, at(3, 11, 59));
    assert_eq!(r.pauses[0].start, r.pauses[0].end);
    assert_eq!(r.paused_duration(at(3, 12, 0)), Duration::zero());
}

// ---------------------------------------------------------------------------
// History
// ---------------------------------------------------------------------------

#[test]
fn history_events_carry_states_and_details() {
    let sup = supervisor();
    let c = opened();
    let (c, ev, _) = apply(
        &c,
        &sup,
        Command::SetPriority {
            priority: Priority::Urgent,
        },
        at(3, 9, 1),
    )
    .expect("priority");
    assert_eq!(ev[0].kind, HistoryKind::PriorityChanged);
    assert_eq!(ev[0].detail, json!({"from": "normal", "to": "urgent"}));
    assert_eq!(ev[0].from_state, Some(ComplaintState::Accepted));
    assert_eq!(ev[0].to_state, Some(ComplaintState::Accepted));

    let (c, ev, _) = apply(
        &c,
        &sup,
        Command::MarkSpecial { special: true },
        at(3, 9, 2),
    )
    .expect("special");
    assert!(c.special);
    assert_eq!(ev[0].detail, json!({"special": true}));

    let (c, ev, _) = apply(
        &c,
        &sup,
        Command::SetCategory {
            category: "network".into(),
        },
        at(3, 9, 3),
    )
    .expect("category");
    assert_eq!(c.category, "network");
    assert_eq!(ev[0].detail, json!({"from": "billing", "to": "network"}));

    let (c, ev, _) = apply(
        &c,
        &sup,
        Command::AddKeyFact {
            fact: KeyFact::new(KeyFactKind::Place, "朝阳营业厅"),
        },
        at(3, 9, 4),
    )
    .expect("fact");
    assert_eq!(c.key_facts.len(), 3);
    assert_eq!(
        ev[0].detail,
        json!({"kind": "place", "value": "朝阳营业厅"})
    );

    let (c, ev, fx) = apply(
        &c,
        &sup,
        Command::Assign {
            assignee: Assignee::Group("desk".into()),
        },
        at(3, 9, 5),
    )
    .expect("assign");
    assert_eq!(
        ev[0].detail,
        json!({"from": {"kind": "agent", "id": "a1"}, "to": {"kind": "group", "id": "desk"}})
    );
    assert_eq!(
        fx,
        vec![SideEffect::NotifyAssignee {
            complaint_id: "c1".into(),
            assignee: Assignee::Group("desk".into())
        }]
    );
    assert_eq!(c.version, 6);

    // No-op changes are refused.
    for cmd in [
        Command::SetPriority {
            priority: Priority::Urgent,
        },
        Command::MarkSpecial { special: true },
        Command::SetCategory {
            category: " network ".into(),
        },
        Command::Assign {
            assignee: Assignee::Group("desk".into()),
        },
    ] {
        let e = err(&c, &sup, cmd);
        assert!(matches!(e, ComplaintError::Unchanged(_)), "{e}");
        assert_eq!(e.class(), ErrorClass::Conflict);
    }
}

#[test]
fn history_event_json_shape() {
    let (_, ev, _) = apply(
        &opened(),
        &agent("a1"),
        Command::AddNote {
            text: "客户情绪激动".into(),
        },
        at(3, 9, 1),
    )
    .expect("note");
    let v = serde_json::to_value(&ev[0]).expect("serialises");
    assert_eq!(v["kind"], json!("note_added"));
    assert_eq!(v["from_state"], json!("accepted"));
    assert_eq!(v["to_state"], json!("accepted"));
    assert_eq!(v["actor_role"], json!("agent"));
    assert_eq!(v["detail"], json!({"text": "客户情绪激动"}));
}

// ---------------------------------------------------------------------------
// Roles
// ---------------------------------------------------------------------------

#[test]
fn an_agent_cannot_act_on_someone_elses_complaint() {
    let a2 = agent("a2");
    for cmd in [
        Command::Investigate,
        Command::Reply {
            message: "您好".into(),
        },
        Command::AddNote { text: "x".into() },
        Command::WaitOnCustomer { reason: None },
    ] {
        let e = err(&opened(), &a2, cmd);
        assert!(matches!(e, ComplaintError::Forbidden { .. }), "{e}");
        assert!(e.to_string().contains("assigned to agent a1"), "{e}");
    }
    // Forbidden wins over the state: no leak of the state to outsiders.
    let e = err(&closed(), &a2, resolve());
    assert!(matches!(e, ComplaintError::Forbidden { .. }), "{e}");
}

#[test]
fn agents_claim_unassigned_or_group_complaints_but_never_reassign() {
    let mut i = input();
    i.assignee = Some(Assignee::Group("desk".into()));
    let (queued, _) = new_complaint(i, &supervisor(), t0()).expect("opens");

    // Not a member: cannot even work it.
    let outsider = agent("a2");
    let e = err(
        &queued,
        &outsider,
        Command::Assign {
            assignee: Assignee::Agent("a2".into()),
        },
    );
    assert!(matches!(e, ComplaintError::Forbidden { .. }), "{e}");
    let e = err(&queued, &outsider, Command::Investigate);
    assert!(matches!(e, ComplaintError::Forbidden { .. }), "{e}");

    // A member claims it.
    let member = agent("a2").with_groups(["desk"]);
    assert_eq!(
        available_commands(&queued, &member),
        vec![CommandKind::Assign]
    );
    let e = err(
        &queued,
        &member,
        Command::Assign {
            assignee: Assignee::Agent("a3".into()),
        },
    );
    assert!(
        e.to_string()
            .contains("only assign a complaint to themselves"),
        "{e}"
    );
    let (mine, _, fx) = apply(
        &queued,
        &member,
        Command::Assign {
            assignee: Assignee::Agent("a2".into()),
        },
        at(3, 9, 5),
    )
    .expect("claims");
    assert_eq!(mine.assignee, Some(Assignee::Agent("a2".into())));
    assert_eq!(fx.len(), 1);

    // Now it is theirs; they cannot hand it to anyone.
    for target in [Assignee::Group("desk".into()), Assignee::Agent("a9".into())] {
        let e = err(&mine, &member, Command::Assign { assignee: target });
        assert!(e.to_string().contains("cannot reassign"), "{e}");
    }

    // Unassigned complaints are claimable by any agent.
    let mut i = input();
    i.assignee = None;
    let (free, _) = new_complaint(i, &admin(), t0()).expect("opens");
    let e = err(&free, &agent("a5"), Command::Investigate);
    assert!(e.to_string().contains("claim it first"), "{e}");
    run(
        &free,
        &agent("a5"),
        Command::Assign {
            assignee: Assignee::Agent("a5".into()),
        },
        at(3, 9, 6),
    );
}

#[test]
fn agent_limits_on_close_reopen_priority_and_special() {
    let a1 = agent("a1");
    // Close only what has been resolved, and only in 处理中.
    let e = err(&handling(), &a1, close());
    assert!(
        e.to_string()
            .contains("only close complaints that have been resolved"),
        "{e}"
    );
    let e = err(&awaiting_follow_up(), &a1, close());
    assert!(e.to_string().contains("closed by a supervisor"), "{e}");
    run(&resolved(), &a1, close(), at(3, 12, 0));

    // No reopening.
    let e = err(&closed(), &a1, reopen(ReopenTarget::Handling));
    assert!(matches!(e, ComplaintError::Forbidden { .. }), "{e}");

    // Raise priority, not lower.
    let c = run(
        &opened(),
        &a1,
        Command::SetPriority {
            priority: Priority::High,
        },
        at(3, 9, 1),
    );
    let e = err(
        &c,
        &a1,
        Command::SetPriority {
            priority: Priority::Low,
        },
    );
    assert!(e.to_string().contains("not lower"), "{e}");
    run(
        &c,
        &supervisor(),
        Command::SetPriority {
            priority: Priority::Low,
        },
        at(3, 9, 2),
    );

    // Set special, not clear.
    let c = run(&c, &a1, Command::MarkSpecial { special: true }, at(3, 9, 3));
    let e = err(&c, &a1, Command::MarkSpecial { special: false });
    assert!(matches!(e, ComplaintError::Forbidden { .. }), "{e}");
    run(
        &c,
        &supervisor(),
        Command::MarkSpecial { special: false },
        at(3, 9, 4),
    );
}

#[test]
fn inspectors_only_add_notes() {
    let q = inspector();
    for c in [opened(), handling(), closed()] {
        let c2 = run(
            &c,
            &q,
            Command::AddNote {
                text: "录音中未道歉".into(),
            },
            at(5, 9, 0),
        );
        assert_eq!(c2.state, c.state);
        assert_eq!(c2.version, c.version + 1);
        assert_eq!(available_commands(&c, &q), vec![CommandKind::AddNote]);
    }
    for cmd in [
        resolve(),
        Command::Investigate,
        Command::Assign {
            assignee: Assignee::Agent("q1".into()),
        },
        survey(9, 9),
    ] {
        let e = err(&resolved(), &q, cmd);
        assert!(matches!(e, ComplaintError::Forbidden { .. }), "{e}");
    }
}

#[test]
fn supervisors_and_admins_do_everything_on_any_complaint() {
    let c = opened();
    for actor in [supervisor(), admin()] {
        let kinds = available_commands(&c, &actor);
        assert!(kinds.contains(&CommandKind::Investigate));
        assert!(kinds.contains(&CommandKind::Close));
        assert!(kinds.contains(&CommandKind::Assign));
        assert!(!kinds.contains(&CommandKind::Resolve), "not in 受理");
        assert!(available_commands(&closed(), &actor).contains(&CommandKind::Reopen));
    }
    let owner = available_commands(&resolved(), &agent("a1"));
    assert!(owner.contains(&CommandKind::Close));
    assert!(owner.contains(&CommandKind::RecordSurvey));
    assert!(!owner.contains(&CommandKind::Assign));
    assert!(available_commands(&resolved(), &agent("a2")).is_empty());
}

// ---------------------------------------------------------------------------
// Surveys and revisits
// ---------------------------------------------------------------------------

#[test]
fn default_bands() -> Result<()> {
    let b = SatisfactionBands::default();
    for s in 0..=4 {
        assert_eq!(b.band(s)?, Band::Unsatisfied, "{s}");
    }
    for s in 5..=7 {
        assert_eq!(b.band(s)?, Band::Neutral, "{s}");
    }
    for s in 8..=10 {
        assert_eq!(b.band(s)?, Band::Satisfied, "{s}");
    }
    assert_eq!(
        b.band(11),
        Err(ComplaintError::ScoreOutOfRange {
            field: "score",
            score: 11
        })
    );
    assert!(b.band(255).is_err());
    assert_eq!(Band::Unsatisfied.label_zh(), "不满意");
    assert_eq!(Band::Neutral.label_zh(), "一般");
    assert_eq!(Band::Satisfied.label_zh(), "满意");
    Ok(())
}

#[test]
fn configurable_bands() -> Result<()> {
    let b = SatisfactionBands::new(5, 8)?;
    assert_eq!(b.band(5)?, Band::Unsatisfied);
    assert_eq!(b.band(6)?, Band::Neutral);
    assert_eq!(b.band(8)?, Band::Neutral);
    assert_eq!(b.band(9)?, Band::Satisfied);
    // No neutral band.
    let b = SatisfactionBands::new(6, 6)?;
    assert_eq!(b.band(6)?, Band::Unsatisfied);
    assert_eq!(b.band(7)?, Band::Satisfied);
    // Invalid.
    assert!(matches!(
        SatisfactionBands::new(8, 7),
        Err(ComplaintError::Policy(_))
    ));
    assert!(matches!(
        SatisfactionBands::new(4, 10),
        Err(ComplaintError::Policy(_))
    ));

    let p = ComplaintPolicy::from_toml_str(
        "revisit_days = 3\n[bands]\nunsatisfied_max = 6\nneutral_max = 8\n",
    )?;
    assert_eq!(p.revisit_days, 3);
    assert_eq!(p.bands, SatisfactionBands::new(6, 8)?);
    assert_eq!(
        ComplaintPolicy::from_toml_str("")?,
        ComplaintPolicy::default()
    );
    assert!(ComplaintPolicy::from_toml_str("revisit_dayz = 3").is_err());
    assert!(ComplaintPolicy::from_toml_str("revisit_days = 0").is_err());
    assert!(ComplaintPolicy::from_toml_str("[bands]\nneutral_max = 2").is_err());

    // The policy drives apply.
    let now = at(3, 10, 30);
    let (c, _, fx) = apply_with_policy(&resolved(), &agent("a1"), survey(6, 9), now, &p)?;
    assert_eq!(
        c.survey.as_ref().map(|s| s.result_band),
        Some(Band::Unsatisfied)
    );
    assert_eq!(
        fx,
        vec![SideEffect::CreateRevisit {
            complaint_id: "c1".into(),
            due_at: now + Duration::days(3),
            result_score: 6,
            attitude_score: 9,
        }]
    );
    // The same scores under the default bands: 一般, no revisit.
    let (_, _, fx) = apply(&resolved(), &agent("a1"), survey(6, 9), now)?;
    assert!(fx.is_empty());
    Ok(())
}

#[test]
fn an_unsatisfied_survey_creates_a_revisit_due_exactly_7_days_later() -> Result<()> {
    let now = at(3, 10, 30);
    for (result, attitude) in [(2, 9), (9, 4), (0, 0)] {
        let (c, ev, fx) = apply(&resolved(), &agent("a1"), survey(result, attitude), now)?;
        let due = at(10, 10, 30);
        assert_eq!(due - now, Duration::days(7));
        assert_eq!(
            fx,
            vec![SideEffect::CreateRevisit {
                complaint_id: "c1".into(),
                due_at: due,
                result_score: result,
                attitude_score: attitude,
            }]
        );
        let s = c.survey.as_ref().expect("recorded");
        assert!(s.is_unsatisfied());
        assert_eq!(s.recorded_by, "a1");
        assert_eq!(ev[0].kind, HistoryKind::SurveyRecorded);
        assert_eq!(
            ev[0].detail["revisit_due_at"],
            serde_json::to_value(due).expect("time")
        );
        let task = RevisitTask::from_side_effect("r1", &fx[0], now).expect("a revisit");
        assert_eq!(task.due_at, due);
        assert_eq!(task.complaint_id, "c1");
        assert_eq!(task.assigned_role, ActorRole::Supervisor);
        assert!(!task.is_done());
    }
    for (result, attitude) in [(5, 8), (10, 10), (7, 5)] {
        let (c, ev, fx) = apply(&resolved(), &agent("a1"), survey(result, attitude), now)?;
        assert!(fx.is_empty(), "{result}/{attitude}");
        assert!(c.survey.is_some());
        assert_eq!(ev[0].detail["revisit_due_at"], json!(null));
    }
    Ok(())
}

#[test]
fn survey_rules() -> Result<()> {
    let a1 = agent("a1");
    let now = at(3, 10, 30);
    // Out of range.
    let e = err(&resolved(), &a1, survey(11, 5));
    assert_eq!(
        e,
        ComplaintError::ScoreOutOfRange {
            field: "result_score",
            score: 11
        }
    );
    let e = err(&resolved(), &a1, survey(5, 200));
    assert!(e.to_string().contains("attitude_score 200"), "{e}");
    // Recorded in 待回访 and in 已关闭 (resolved) too.
    apply(&awaiting_follow_up(), &a1, survey(9, 9), now)?;
    apply(&closed(), &supervisor(), survey(9, 9), now)?;
    // A supervisor-closed, never-resolved complaint takes no survey.
    let withdrawn = run(&opened(), &supervisor(), close(), now);
    let e = err(&withdrawn, &supervisor(), survey(9, 9));
    assert!(matches!(e, ComplaintError::Precondition { .. }), "{e}");
    // Once per resolution.
    let (c, _, _) = apply(
        &resolved(),
        &a1,
        Command::RecordSurvey {
            result_score: 8,
            attitude_score: 9,
            comment: Some(" 很好 ".into()),
        },
        now,
    )?;
    assert_eq!(
        c.survey.as_ref().and_then(|s| s.comment.as_deref()),
        Some("很好")
    );
    let e = err(&c, &a1, survey(1, 1));
    assert!(e.to_string().contains("already recorded"), "{e}");
    Ok(())
}

#[test]
fn revisit_overdue_and_completion() -> Result<()> {
    let now = at(3, 10, 0);
    let due = now + Duration::days(7);
    let task = RevisitTask::new("r1", "c1", now, due);
    assert!(!task.is_overdue(now));
    assert!(!task.is_overdue(due), "due exactly now is not late yet");
    assert!(task.is_overdue(due + Duration::seconds(1)));

    let c = awaiting_follow_up();
    let e = task
        .complete(&c, &agent("a1"), RevisitOutcome::Resolved, None, now)
        .expect_err("agents do not revisit");
    assert!(matches!(e, ComplaintError::Forbidden { .. }), "{e}");

    let mut other = c.clone();
    other.id = "c2".into();
    let e = task
        .complete(&other, &inspector(), RevisitOutcome::Resolved, None, now)
        .expect_err("wrong complaint");
    assert!(matches!(e, ComplaintError::Invalid { .. }), "{e}");

    let done_at = due + Duration::hours(2);
    let (done, ev) = task.complete(
        &c,
        &inspector(),
        RevisitOutcome::StillUnsatisfied,
        Some("客户仍要求赔偿".into()),
        done_at,
    )?;
    assert_eq!(done.done_at, Some(done_at));
    assert_eq!(done.done_by.as_deref(), Some("q1"));
    assert_eq!(done.outcome_kind, Some(RevisitOutcome::StillUnsatisfied));
    assert_eq!(done.outcome.as_deref(), Some("客户仍要求赔偿"));
    assert!(!done.is_overdue(done_at + Duration::days(30)));
    assert_eq!(ev.kind, HistoryKind::RevisitCompleted);
    assert_eq!(ev.from_state, Some(ComplaintState::AwaitingFollowUp));
    assert_eq!(ev.to_state, Some(ComplaintState::AwaitingFollowUp));
    assert_eq!(ev.detail["late"], json!(true));
    assert_eq!(ev.detail["outcome_kind"], json!("still_unsatisfied"));

    let e = done
        .complete(&c, &supervisor(), RevisitOutcome::Resolved, None, done_at)
        .expect_err("twice");
    assert!(e.to_string().contains("already done"), "{e}");

    // Supervisors complete too; blank outcome text becomes None.
    let (d2, _) = task.complete(
        &c,
        &supervisor(),
        RevisitOutcome::Unreachable,
        Some("  ".into()),
        now,
    )?;
    assert_eq!(d2.outcome, None);
    Ok(())
}

#[test]
fn overdue_revisits_are_listed_most_overdue_first() {
    let now = at(20, 12, 0);
    let mk = |id: &str, due: DateTime<Utc>| RevisitTask::new(id, "c1", at(1, 0, 0), due);
    let mut done = mk("r-done", at(5, 0, 0));
    done.done_at = Some(at(6, 0, 0));
    let tasks = vec![
        mk("r-late-2", at(15, 0, 0)),
        mk("r-future", at(25, 0, 0)),
        done,
        mk("r-late-1", at(10, 0, 0)),
        mk("r-now", now),
        mk("r-late-2b", at(15, 0, 0)),
    ];
    let ids: Vec<&str> = overdue_revisits(&tasks, now)
        .into_iter()
        .map(|t| t.id.as_str())
        .collect();
    assert_eq!(ids, vec!["r-late-1", "r-late-2", "r-late-2b"]);
    assert!(overdue_revisits(&[], now).is_empty());
}

// ---------------------------------------------------------------------------
// Masking
// ---------------------------------------------------------------------------

#[test]
fn phone_masking() {
    assert_eq!(mask_phone("13812345678"), "138****5678");
    assert_eq!(mask_phone(" 13812345678 "), "138****5678");
    assert_eq!(mask_phone("+8613812345678"), "+86*******5678");
    assert_eq!(mask_phone("62345678"), "62****78");
    assert_eq!(mask_phone("1234567"), "12***67");
    assert_eq!(mask_phone("123456"), "******");
    assert_eq!(mask_phone("1"), "*");
    assert_eq!(mask_phone(""), "");
    assert_eq!(mask_phone("   "), "");
    // Non-ASCII: by characters, never splitting one.
    assert_eq!(mask_phone("１３８１２３４５６７８"), "１３８****５６７８");
    assert_eq!(mask_phone("电话"), "**");
    assert_eq!(mask_phone("010-12345678转123"), "010*********转123");
    assert_eq!(mask_phone("📞📞📞📞📞📞📞📞"), "📞📞****📞📞");
}

#[test]
fn id_number_masking() {
    assert_eq!(mask_id_number("110101199001011234"), "110101********1234");
    assert_eq!(mask_id_number("11010119900101123X"), "110101********123X");
    assert_eq!(mask_id_number("110101900101123"), "110101******123");
    assert_eq!(mask_id_number("E12345678"), "E*****678");
    assert_eq!(mask_id_number("1234567"), "*******");
    assert_eq!(mask_id_number(""), "");
    assert_eq!(mask_id_number(" \t"), "");
    assert_eq!(mask_id_number("身份证号码不详请核实"), "身******请核实");
    assert_eq!(mask_id_number("a"), "*");
}

#[test]
fn name_masking_and_redaction() {
    assert_eq!(mask_name("张三"), "张*");
    assert_eq!(mask_name("欧阳修"), "欧*修");
    assert_eq!(mask_name("王"), "*");
    assert_eq!(mask_name(""), "");
    assert_eq!(mask_name("John Smith"), "J********h");

    let c = opened();
    let masked = c.redacted_for(&inspector());
    assert_eq!(masked.customer.name, "张*");
    assert_eq!(masked.customer.phone.as_deref(), Some("138****5678"));
    assert_eq!(
        masked.customer.id_number.as_deref(),
        Some("110101********1234")
    );
    assert_eq!(masked.customer.id.as_deref(), Some("cust-9"));
    assert_eq!(c.redacted_for(&agent("a2")).customer, masked.customer);
    assert_eq!(c.redacted_for(&agent("a1")), c);
    assert_eq!(c.redacted_for(&supervisor()), c);
    assert_eq!(c.redacted_for(&admin()), c);
}

// ---------------------------------------------------------------------------
// Names, JSON, versions
// ---------------------------------------------------------------------------

#[test]
fn stable_names_and_labels() {
    let states = [
        (ComplaintState::Accepted, "accepted", "受理"),
        (ComplaintState::Investigating, "investigating", "调查"),
        (ComplaintState::Handling, "handling", "处理中"),
        (
            ComplaintState::AwaitingFollowUp,
            "awaiting_follow_up",
            "待回访",
        ),
        (ComplaintState::Closed, "closed", "已关闭"),
    ];
    for (s, name, zh) in states {
        assert_eq!(s.as_str(), name);
        assert_eq!(s.label_zh(), zh);
        assert_eq!(s.to_string(), name);
        assert_eq!(name.parse::<ComplaintState>(), Ok(s));
        assert_eq!(zh.parse::<ComplaintState>(), Ok(s));
        assert_eq!(serde_json::to_value(s).ok(), Some(json!(name)));
    }
    assert!(matches!(
        "resolved".parse::<ComplaintState>(),
        Err(ComplaintError::UnknownValue { what: "state", .. })
    ));
    let priorities = [
        (Priority::Low, "low", "低"),
        (Priority::Normal, "normal", "中"),
        (Priority::High, "high", "高"),
        (Priority::Urgent, "urgent", "紧急"),
    ];
    for (p, name, zh) in priorities {
        assert_eq!(p.as_str(), name);
        assert_eq!(p.label_zh(), zh);
        assert_eq!(name.parse::<Priority>(), Ok(p));
    }
    assert!(Priority::Low < Priority::Normal && Priority::High < Priority::Urgent);
    assert_eq!("inspector".parse::<ActorRole>(), Ok(ActorRole::Inspector));
    assert_eq!(ActorRole::Inspector.label_zh(), "质检员");
    assert_eq!(
        Assignee::from_parts("group", "desk"),
        Ok(Assignee::Group("desk".into()))
    );
    assert!(Assignee::from_parts("team", "desk").is_err());
}

#[test]
fn commands_and_complaints_round_trip_through_json() {
    let cmd: Command = serde_json::from_value(json!({
        "type": "assign",
        "assignee": {"kind": "group", "id": "desk"}
    }))
    .expect("assign parses");
    assert_eq!(
        cmd,
        Command::Assign {
            assignee: Assignee::Group("desk".into())
        }
    );
    let cmd: Command =
        serde_json::from_value(json!({"type": "reopen", "reason": "again"})).expect("reopen");
    assert_eq!(
        cmd,
        Command::Reopen {
            reason: "again".into(),
            to: ReopenTarget::Handling
        }
    );
    let cmd: Command = serde_json::from_value(json!({"type": "wait_on_customer"})).expect("wait");
    assert_eq!(cmd, Command::WaitOnCustomer { reason: None });
    let cmd: Command = serde_json::from_value(json!({"type": "investigate"})).expect("unit");
    assert_eq!(cmd.kind(), CommandKind::Investigate);
    assert!(serde_json::from_value::<Command>(json!({"type": "explode"})).is_err());

    let c = awaiting_follow_up();
    let text = serde_json::to_string(&c).expect("serialises");
    let back: Complaint = serde_json::from_str(&text).expect("parses");
    assert_eq!(back, c);
    let v = serde_json::to_value(&c).expect("value");
    assert_eq!(v["state"], json!("awaiting_follow_up"));
    assert_eq!(v["priority"], json!("normal"));
}

#[test]
fn versions_increase_and_can_be_checked() {
    let c = handling();
    assert_eq!(c.version, 3);
    assert_eq!(c.check_version(3), Ok(()));
    let e = c.check_version(2).expect_err("stale");
    assert_eq!(
        e,
        ComplaintError::VersionConflict {
            expected: 2,
            actual: 3
        }
    );
    assert_eq!(e.class(), ErrorClass::Conflict);
}
