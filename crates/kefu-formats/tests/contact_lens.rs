//! Amazon Connect Contact Lens output: segments name a `ParticipantId`,
//! which the top-level `Participants` list maps to a role.

use kefu_engine::Role;
use kefu_formats::import::{amazon, ImportOptions};
use serde_json::Value;

const EXAMPLE: &str = include_str!("../../../examples/vendors/amazon-contact-lens.json");

#[test]
fn contact_lens_roles_come_from_participants() {
    let doc: Value = serde_json::from_str(EXAMPLE).expect("example is JSON");
    assert!(amazon::detect(&doc), "Contact Lens output is recognised");
    let imported = amazon::read(
        "amazon-contact-lens.json",
        EXAMPLE.as_bytes(),
        &ImportOptions::default(),
    );
    assert!(imported.errors.is_empty(), "{:?}", imported.errors);
    assert_eq!(imported.conversations.len(), 1);
    let conv = &imported.conversations[0];
    assert_eq!(conv.id, "7f3a9c21-5d4e-4b8a-9e61-2c0d8b7f4a10");
    let roles: Vec<Role> = conv.turns.iter().map(|t| t.role).collect();
    use Role::{Agent as A, Customer as C};
    assert_eq!(roles, [A, C, A, C, A, C, A]);
    assert_eq!(conv.turns[1].start_ms, Some(7000));
    assert!(conv.turns[0].meta.contains_key("LoudnessScores"));
}

#[test]
fn unknown_participant_ids_are_errors_and_role_names_work_as_ids() {
    let mut doc: Value = serde_json::from_str(EXAMPLE).expect("example is JSON");
    doc["Transcript"][1]["ParticipantId"] = Value::from("nobody");
    let text = doc.to_string();
    let imported = amazon::read("bad.json", text.as_bytes(), &ImportOptions::default());
    assert_eq!(imported.conversations.len(), 0);
    assert!(
        imported.errors[0].reason.contains("nobody"),
        "{:?}",
        imported.errors
    );

    // Ids that are role names themselves, with no Participants entry.
    doc["Participants"] = Value::Array(vec![]);
    for (i, seg) in doc["Transcript"]
        .as_array_mut()
        .expect("array")
        .iter_mut()
        .enumerate()
    {
        seg["ParticipantId"] = Value::from(if i % 2 == 0 { "AGENT" } else { "CUSTOMER" });
    }
    let text = doc.to_string();
    let imported = amazon::read("ids.json", text.as_bytes(), &ImportOptions::default());
    assert!(imported.errors.is_empty(), "{:?}", imported.errors);
    assert_eq!(imported.conversations[0].turns[2].role, Role::Agent);
}
