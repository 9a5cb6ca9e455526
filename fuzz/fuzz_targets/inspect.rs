#![no_main]
//! The built-in zh-CN pack inspecting arbitrary conversation text: one turn
//! per line, agent and customer alternating (see `kefu_fuzz::conversation`).

use std::sync::OnceLock;

use kefu_engine::{Inspector, RulePack, Scratch};
use libfuzzer_sys::fuzz_target;

static INSPECTOR: OnceLock<Inspector> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let inspector = INSPECTOR.get_or_init(|| {
        let pack = RulePack::default_zh_cn().expect("the built-in pack loads");
        Inspector::new(pack).expect("the built-in pack compiles")
    });
    let text = String::from_utf8_lossy(data);
    let conv = kefu_fuzz::conversation(&text);
    let mut scratch = Scratch::default();
    let _ = inspector.inspect(&conv, &mut scratch);
});
