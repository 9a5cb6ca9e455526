#![no_main]
//! Native records inspected by the built-in zh-CN pack: any conversation
//! the reader accepts (turn times in any order, up to u64::MAX, any text)
//! must be inspected without a panic.

use std::sync::OnceLock;

use kefu_engine::{Inspector, RulePack, Scratch};
use kefu_formats::native::{self, Batch, RecordReader};
use libfuzzer_sys::fuzz_target;

static INSPECTOR: OnceLock<Inspector> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let inspector = INSPECTOR.get_or_init(|| {
        let pack = RulePack::default_zh_cn().expect("the built-in pack loads");
        Inspector::new(pack).expect("the built-in pack compiles")
    });
    let mut reader = RecordReader::new(data);
    let mut batch = Batch::default();
    let mut scratch = Scratch::default();
    while reader
        .next_batch(&mut batch, 4, 1 << 16)
        .expect("reading from memory cannot fail")
    {
        for (_, bytes) in batch.iter() {
            if let Ok(conv) = native::parse_conversation(bytes) {
                let _ = inspector.inspect(&conv, &mut scratch);
            }
        }
    }
});
