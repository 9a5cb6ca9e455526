//! The segmenter's dictionary stays out of the inspection path: inspecting
//! conversations (its own test process, so no other test loads it) leaves
//! it unloaded; theme analysis loads it.

use kefu_engine::{themes, Conversation, Inspector, RulePack, Scratch};

#[test]
fn inspection_does_not_load_the_dictionary() {
    let inspector = Inspector::new(RulePack::default_zh_cn().expect("pack")).expect("compile");
    let conv: Conversation<'_> = serde_json::from_str(
        r#"{"id":"c1","channel":"phone","turns":[{"role":"agent","text":"您好，请问有什么可以帮您？"},{"role":"customer","text":"快递太慢了。"}]}"#,
    )
    .expect("parse");
    let result = inspector.inspect(&conv, &mut Scratch::default());
    assert!(result.score <= 100.0);
    assert!(!themes::dictionary_loaded());
    themes::words("快递太慢了");
    assert!(themes::dictionary_loaded());
}
