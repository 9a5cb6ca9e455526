//! The inspection pipeline behind `kefu inspect` and `kefu bench`:
//! read batches → inspect on N workers → write in input order.
//!
//! Memory stays flat whatever the input size: batches are bounded in bytes
//! and records, channels are bounded, buffers are recycled.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crossbeam_channel::bounded;
use indicatif::{ProgressBar, ProgressStyle};
use kefu_engine::{Conversation, Inspection, Inspector, Scratch};
use kefu_formats::import::{Format, ImportOptions};
use kefu_formats::native::{parse_record, Batch, BatchSource};

use crate::defaults::ConversationDefaults;
use kefu_formats::report::{write_record, InputError, OutputFormat};
use kefu_formats::summary::Summary;

use crate::dupes::{Duplicates, Seen};

/// Records per batch: large enough to amortise channel costs, small enough
/// to keep every worker busy on small inputs.
const BATCH_RECORDS: usize = 512;
/// Soft byte limit of a batch.
const BATCH_BYTES: usize = 4 << 20;

/// Where an input comes from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// A file on disk.
    File(PathBuf),
    /// Standard input (`-`).
    Stdin,
}

/// One input and its format.
#[derive(Debug, Clone)]
pub(crate) struct Input {
    /// File or standard input.
    pub source: Source,
    /// How to read it.
    pub format: Format,
}

impl Input {
    /// A native-format input (tests and benchmarks).
    pub(crate) fn native(path: PathBuf) -> Input {
        Input {
            source: Source::File(path),
            format: Format::Native,
        }
    }

    /// Name used in error messages.
    pub(crate) fn name(&self) -> String {
        match &self.source {
            Source::File(p) => p.display().to_string(),
            Source::Stdin => "-".to_string(),
        }
    }

    /// Batches of native records: streamed for native files; for other
    /// formats the file is read whole and run through its importer.
    fn open(
        &self,
        opts: &ImportOptions,
        defaults: &ConversationDefaults,
    ) -> io::Result<Box<dyn BatchSource + Send>> {
        let reader: Box<dyn BufRead + Send> = match &self.source {
            Source::File(p) => Box::new(BufReader::with_capacity(1 << 20, File::open(p)?)),
            Source::Stdin => Box::new(BufReader::with_capacity(1 << 20, io::stdin())),
        };
        let stem = match &self.source {
            Source::File(p) => p.file_stem().map(|s| s.to_string_lossy().into_owned()),
            Source::Stdin => None,
        }
        .unwrap_or_default();
        kefu_formats::detect::open_batches(
            reader,
            self.size(),
            self.format,
            &self.name(),
            opts,
            |imported| {
                if !defaults.is_empty() {
                    for conv in &mut imported.conversations {
                        defaults.apply(&stem, conv);
                    }
                }
            },
        )
    }

    /// The file's size when known (not for standard input).
    fn size(&self) -> Option<u64> {
        match &self.source {
            Source::File(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            Source::Stdin => None,
        }
    }
}

/// Extensions picked up when walking a directory.
const KNOWN_EXTENSIONS: &[&str] = &["jsonl", "json", "ndjson", "csv", "tsv", "txt", "log"];

/// Expands arguments: files as given, globs (`'calls/*.json'`), directories
/// walked for known extensions, `-` for stdin; each file's format is `from`
/// or detected. Missing paths become input errors.
pub(crate) fn expand_inputs(
    args: &[PathBuf],
    from: Option<Format>,
    errors: &mut Vec<InputError>,
) -> Vec<Input> {
    let mut files = Vec::new();
    let mut out = Vec::new();
    for a in args {
        let text = a.to_string_lossy();
        if text == "-" {
            out.push(Input {
                source: Source::Stdin,
                format: from.unwrap_or(Format::Native),
            });
            continue;
        }
        files.clear();
        if a.is_dir() {
            walk(a, &mut files, errors);
            files.sort();
        } else if a.exists() {
            files.push(a.clone());
        } else if text.contains(['*', '?', '[']) {
            match glob::glob(&text) {
                Ok(paths) => {
                    for p in paths {
                        match p {
                            Ok(p) if p.is_file() => files.push(p),
                            Ok(_) => {}
                            Err(e) => errors.push(InputError {
                                file: e.path().display().to_string(),
                                line: 0,
                                reason: e.error().to_string(),
                            }),
                        }
                    }
                    if files.is_empty() {
                        errors.push(InputError {
                            file: text.to_string(),
                            line: 0,
                            reason: "no file matches this pattern".into(),
                        });
                    }
                }
                Err(e) => errors.push(InputError {
                    file: text.to_string(),
                    line: 0,
                    reason: format!("bad pattern: {e}"),
                }),
            }
        } else {
            errors.push(InputError {
                file: text.to_string(),
                line: 0,
                reason: "no such file or directory".into(),
            });
        }
        for f in files.drain(..) {
            let format = match from {
                Some(f) => f,
                None => match crate::formats::read_head(&f) {
                    Ok(head) => crate::formats::detect(&f, &head),
                    Err(e) => {
                        errors.push(InputError {
                            file: f.display().to_string(),
                            line: 0,
                            reason: e.to_string(),
                        });
                        continue;
                    }
                },
            };
            out.push(Input {
                source: Source::File(f),
                format,
            });
        }
    }
    out
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<InputError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(InputError {
                file: dir.display().to_string(),
                line: 0,
                reason: e.to_string(),
            });
            return;
        }
    };
    for entry in entries.flatten() {
        let p = entry.path();
        if p.is_dir() {
            walk(&p, files, errors);
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| KNOWN_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        {
            files.push(p);
        }
    }
}

/// What a run produced besides the output stream.
#[derive(Debug, Default)]
pub(crate) struct RunOutcome {
    /// Totals per agent and rule.
    pub summary: Summary,
    /// Every input problem, in input order.
    pub errors: Vec<InputError>,
    /// Bytes of input read.
    pub bytes: u64,
    /// Repeated conversation ids.
    pub duplicates: Duplicates,
}

/// Options of a run.
pub(crate) struct RunOptions {
    /// How non-native formats map onto conversations.
    pub import: ImportOptions,
    /// Output format.
    pub format: OutputFormat,
    /// Worker threads; 1 runs everything on the calling thread.
    pub jobs: usize,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Print input errors to stderr as they happen.
    pub echo_errors: bool,
    /// Agent and start time for imported conversations lacking them
    /// (`kefu import --agent …`; empty elsewhere).
    pub defaults: Arc<ConversationDefaults>,
}

/// What workers do with each inspected conversation, and what they hand
/// to the (single, in-order) consumer per batch.
pub(crate) trait Work: Sync {
    /// Per-batch product.
    type Output: Send + Default;
    /// An empty product for a batch of `input_bytes` bytes of input.
    fn new_output(&self, _input_bytes: usize) -> Self::Output {
        Self::Output::default()
    }
    /// Handles one result; `raw` is the record's JSON text.
    fn record(&self, raw: &str, conv: &Conversation<'_>, ins: Inspection, out: &mut Self::Output);
}

/// Formats results for an output stream.
pub(crate) struct Formatted(pub OutputFormat);

impl Work for Formatted {
    type Output = Vec<u8>;
    /// Room for as many bytes as the batch's input: results with ten
    /// findings each come to ~85 % of it, so the buffer is not regrown (and
    /// copied) several times a batch (~2 % of a one-core run).
    fn new_output(&self, input_bytes: usize) -> Vec<u8> {
        Vec::with_capacity(input_bytes)
    }
    fn record(&self, _raw: &str, conv: &Conversation<'_>, ins: Inspection, out: &mut Vec<u8>) {
        write_record(out, self.0, conv, &ins);
    }
}

/// Keeps the results themselves (for writers that need them whole).
pub(crate) struct Results;

impl Work for Results {
    type Output = Vec<Inspection>;
    fn record(
        &self,
        _raw: &str,
        _conv: &Conversation<'_>,
        ins: Inspection,
        out: &mut Vec<Inspection>,
    ) {
        out.push(ins);
    }
}

/// Work done on one batch.
struct Done<T> {
    seq: u64,
    input: usize,
    out: T,
    summary: Summary,
    errors: Vec<(u64, String)>,
    seen: Vec<Seen>,
    bytes: u64,
    batch: Batch,
}

fn process<W: Work>(
    inspector: &Inspector,
    scratch: &mut Scratch,
    work: &W,
    batch: &Batch,
    done: &mut Done<W::Output>,
) {
    for e in &batch.errors {
        done.errors.push((e.line, e.reason.clone()));
    }
    for (line, bytes) in batch.iter() {
        match parse_record(bytes) {
            Ok((conv, raw)) => {
                let ins = inspector.inspect(&conv, scratch);
                done.summary.add(&ins);
                done.seen.push(Seen::new(&conv.id, line, raw));
                work.record(raw, &conv, ins, &mut done.out);
            }
            Err(reason) => done.errors.push((line, reason)),
        }
    }
    done.summary.errors += done.errors.len() as u64;
    done.bytes = batch.data.len() as u64;
}

fn progress_bar(inputs: &[Input], enabled: bool) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let total: Option<u64> = inputs.iter().map(Input::size).sum();
    match total {
        Some(t) => {
            let pb = ProgressBar::new(t);
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} {msg}",
            ) {
                pb.set_style(style);
            }
            pb
        }
        None => ProgressBar::new_spinner(),
    }
}

/// Runs the pipeline over `inputs`, writing formatted results to `out`.
pub(crate) fn run(
    inputs: &[Input],
    inspector: Arc<Inspector>,
    out: &mut dyn Write,
    opts: &RunOptions,
) -> io::Result<RunOutcome> {
    let work = Formatted(opts.format);
    run_with(inputs, inspector, &work, opts, |bytes: Vec<u8>| {
        out.write_all(&bytes)
    })
}

/// Runs the pipeline over `inputs`; `consume` receives each batch's product
/// in input order, on the calling thread.
pub(crate) fn run_with<W: Work>(
    inputs: &[Input],
    inspector: Arc<Inspector>,
    work: &W,
    opts: &RunOptions,
    mut consume: impl FnMut(W::Output) -> io::Result<()>,
) -> io::Result<RunOutcome> {
    let pb = progress_bar(inputs, opts.progress);
    let mut outcome = RunOutcome::default();
    let mut emit = |done: Done<W::Output>, outcome: &mut RunOutcome| -> io::Result<Batch> {
        consume(done.out)?;
        let name = inputs[done.input].name();
        outcome.duplicates.add(&name, done.seen)?;
        for (line, reason) in done.errors {
            let e = InputError {
                file: name.clone(),
                line,
                reason,
            };
            if opts.echo_errors {
                pb.suspend(|| eprintln!("{e}"));
            }
            outcome.errors.push(e);
        }
        outcome.summary.merge(done.summary);
        outcome.bytes += done.bytes;
        pb.inc(done.bytes);
        pb.set_message(format!("{} 通", outcome.summary.conversations));
        Ok(done.batch)
    };
    if opts.jobs <= 1 {
        let mut scratch = Scratch::default();
        let mut batch = Batch::default();
        for (i, input) in inputs.iter().enumerate() {
            let mut reader = match input.open(&opts.import, &opts.defaults) {
                Ok(r) => r,
                Err(e) => {
                    open_error(input, e, &mut outcome, opts, &pb);
                    continue;
                }
            };
            loop {
                match reader.next_batch(&mut batch, BATCH_RECORDS, BATCH_BYTES) {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => {
                        open_error(input, e, &mut outcome, opts, &pb);
                        break;
                    }
                }
                let mut done = Done {
                    seq: 0,
                    input: i,
                    out: work.new_output(batch.data.len()),
                    summary: Summary::default(),
                    errors: Vec::new(),
                    seen: Vec::new(),
                    bytes: 0,
                    batch: Batch::default(),
                };
                process(&inspector, &mut scratch, work, &batch, &mut done);
                done.batch = std::mem::take(&mut batch);
                batch = emit(done, &mut outcome)?;
            }
        }
        pb.finish_and_clear();
        outcome.duplicates.finish()?;
        return Ok(outcome);
    }

    let jobs = opts.jobs;
    let (work_tx, work_rx) = bounded::<(u64, usize, Batch)>(jobs * 2);
    let (done_tx, done_rx) = bounded::<Done<W::Output>>(jobs * 2);
    let (pool_tx, pool_rx) = bounded::<Batch>(jobs * 4 + 4);
    let (ioerr_tx, ioerr_rx) = crossbeam_channel::unbounded::<(usize, io::Error)>();
    std::thread::scope(|scope| -> io::Result<()> {
        // Reader.
        let reader_inputs = inputs.to_vec();
        let import_opts = opts.import.clone();
        let defaults = opts.defaults.clone();
        scope.spawn(move || {
            let mut seq = 0u64;
            for (i, input) in reader_inputs.iter().enumerate() {
                let mut reader = match input.open(&import_opts, &defaults) {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = ioerr_tx.send((i, e));
                        continue;
                    }
                };
                loop {
                    let mut batch = pool_rx.try_recv().unwrap_or_default();
                    match reader.next_batch(&mut batch, BATCH_RECORDS, BATCH_BYTES) {
                        Ok(true) => {
                            if work_tx.send((seq, i, batch)).is_err() {
                                return;
                            }
                            seq += 1;
                        }
                        Ok(false) => break,
                        Err(e) => {
                            let _ = ioerr_tx.send((i, e));
                            break;
                        }
                    }
                }
            }
        });
        // Workers.
        for _ in 0..jobs {
            let work_rx = work_rx.clone();
            let done_tx = done_tx.clone();
            let inspector = inspector.clone();
            scope.spawn(move || {
                let mut scratch = Scratch::default();
                for (seq, input, batch) in work_rx {
                    let mut done = Done {
                        seq,
                        input,
                        out: work.new_output(batch.data.len()),
                        summary: Summary::default(),
                        errors: Vec::new(),
                        seen: Vec::new(),
                        bytes: 0,
                        batch: Batch::default(),
                    };
                    process(&inspector, &mut scratch, work, &batch, &mut done);
                    done.batch = batch;
                    if done_tx.send(done).is_err() {
                        return;
                    }
                }
            });
        }
        drop(work_rx);
        drop(done_tx);
        // Writer, in input order.
        let mut pending: BTreeMap<u64, Done<W::Output>> = BTreeMap::new();
        let mut next = 0u64;
        for done in done_rx {
            pending.insert(done.seq, done);
            while let Some(d) = pending.remove(&next) {
                let batch = emit(d, &mut outcome)?;
                let _ = pool_tx.try_send(batch);
                next += 1;
            }
        }
        Ok(())
    })?;
    for (i, e) in ioerr_rx.try_iter() {
        open_error(&inputs[i], e, &mut outcome, opts, &pb);
    }
    pb.finish_and_clear();
    outcome.duplicates.finish()?;
    Ok(outcome)
}

fn open_error(
    input: &Input,
    e: io::Error,
    outcome: &mut RunOutcome,
    opts: &RunOptions,
    pb: &ProgressBar,
) {
    let err = InputError {
        file: input.name(),
        line: 0,
        reason: e.to_string(),
    };
    if opts.echo_errors {
        pb.suspend(|| eprintln!("{err}"));
    }
    outcome.summary.errors += 1;
    outcome.errors.push(err);
}

/// Prints duplicate-id warnings and, when nothing could be read, the reason;
/// returns the exit code to end with in that case (README: exit 2 when no
/// conversation could be read — empty, BOM-only and header-only files too).
pub(crate) fn report_duplicates_and_emptiness(
    outcome: &RunOutcome,
    problems: usize,
) -> Option<std::process::ExitCode> {
    for line in outcome.duplicates.conflict_lines() {
        eprintln!("warning: {line}");
    }
    let d = &outcome.duplicates;
    if d.identical > 0 || d.conflict_count > 0 {
        eprintln!(
            "kefu: {} identical duplicate records, {} duplicate ids with different content",
            d.identical, d.conflict_count
        );
    }
    if outcome.summary.conversations > 0 {
        return None;
    }
    if problems == 0 {
        eprintln!("kefu: no conversation could be read: the input is empty (or only a header)");
    } else {
        eprintln!("kefu: no usable conversation in the input ({problems} problems)");
    }
    Some(std::process::ExitCode::from(crate::EXIT_UNUSABLE))
}
