//! `kefu customers import|export|list|show|grade|merge|sync`: the customer
//! archive from the command line. Runs as the administrator `cli`, through
//! [`CustomerService`] (same validation, history and audit as the API).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use kefu_formats::export::Lang;
use kefu_formats::import::customers::{self as file, COLUMNS};
use kefu_service::auth::{Principal, Role};
use kefu_service::customer::CustomerService;
use kefu_store::customers::CustomerFilter;
use kefu_store::Store;

use crate::serve::runtime;
use crate::store::DatabaseArgs;

/// Exit code when some rows could not be imported.
const EXIT_ROWS_REJECTED: u8 = 2;

#[derive(clap::Subcommand)]
pub(crate) enum CustomersCommand {
    /// Import customers from CSV/TSV (UTF-8, GBK, UTF-16) or XLSX with Chinese or
    /// English headers (姓名, 电话, 负责坐席, 农历生日 …); bad rows are reported
    /// with their line and skipped. A row whose 客户编号 exists updates it.
    Import {
        /// The file.
        file: PathBuf,
        /// Owner for rows without 负责坐席.
        #[arg(long)]
        owner: Option<String>,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Export customers to CSV (UTF-8 with BOM) or XLSX, by the file's extension.
    /// Phones and ID numbers are masked unless --unmasked.
    Export {
        /// Output file (.csv or .xlsx).
        #[arg(long, short)]
        out: PathBuf,
        /// Header language: zh or en.
        #[arg(long, default_value = "zh")]
        lang: String,
        /// Only this grade.
        #[arg(long)]
        grade: Option<String>,
        /// Write phones and ID numbers in full.
        #[arg(long)]
        unmasked: bool,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// List customers.
    List {
        /// Only this grade.
        #[arg(long)]
        grade: Option<String>,
        /// Only this owner.
        #[arg(long)]
        owner: Option<String>,
        /// Name, id or phone.
        #[arg(long)]
        q: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Show one customer as JSON (profile, figures, timeline).
    Show {
        /// Customer id.
        id: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Grade every customer by the rules (manual grades stay), or set one
    /// customer's grade by hand with --set and --reason.
    Grade {
        /// One customer (with --set).
        id: Option<String>,
        /// A, B, C, or clear.
        #[arg(long)]
        set: Option<String>,
        /// Why (required with --set).
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Merge customer MERGED into KEPT (or --undo a merge by its id).
    Merge {
        /// The customer kept.
        kept: Option<String>,
        /// The customer merged into it.
        merged: Option<String>,
        /// Undo merge number N instead.
        #[arg(long)]
        undo: Option<i64>,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Record complaint activity as customer contacts (resets cadence clocks).
    Sync {
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

fn admin() -> Principal {
    Principal {
        user_id: "cli".into(),
        role: Role::Admin,
        team: None,
    }
}

/// Runs a `kefu customers` command.
pub(crate) fn run(cmd: CustomersCommand) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    match cmd {
        CustomersCommand::Import {
            file: path,
            owner,
            db,
        } => rt.block_on(async {
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            let is_xlsx = path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
            let read = if is_xlsx {
                file::read_xlsx(&bytes)
            } else {
                file::read_csv(&bytes)
            };
            let store = Store::open(&db.url()).await?;
            let svc = CustomerService::new(store.clone());
            let outcome = svc
                .import_records(&admin(), &read, owner.as_deref())
                .await?;
            let (created, updated, errors) = (outcome.created, outcome.updated, outcome.errors);
            store.close().await;
            for (line, reason) in &errors {
                eprintln!("{}:{line}: {reason}", path.display());
            }
            println!(
                "{}: {created} created, {updated} updated, {} rejected ({})",
                path.display(),
                errors.len(),
                read.encoding
            );
            Ok(if errors.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_ROWS_REJECTED)
            })
        }),
        CustomersCommand::Export {
            out,
            lang,
            grade,
            unmasked,
            db,
        } => rt.block_on(async {
            let lang: Lang = lang.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
            let store = Store::open(&db.url()).await?;
            let svc = CustomerService::new(store.clone());
            // Masked exports are what an inspector would see.
            let viewer = if unmasked {
                admin()
            } else {
                Principal {
                    user_id: "cli".into(),
                    role: Role::Inspector,
                    team: None,
                }
            };
            let mut rows = Vec::new();
            let mut after = None;
            loop {
                let page = store
                    .list_customers(&CustomerFilter {
                        grade: grade.clone(),
                        limit: Some(1000),
                        after,
                        ..Default::default()
                    })
                    .await?;
                for c in &page.rows {
                    let v = svc.get(&viewer, &c.id, kefu_store::now_ms()).await?;
                    rows.push(export_row(&v));
                }
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            store.close().await;
            let table = file::customers_table(&rows);
            let is_xlsx = out
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
            if is_xlsx {
                kefu_formats::export::write_xlsx(&[table], lang, &out)?;
            } else {
                let mut f = std::io::BufWriter::new(
                    std::fs::File::create(&out)
                        .with_context(|| format!("creating {}", out.display()))?,
                );
                kefu_formats::export::write_csv(&table, lang, &mut f)?;
                std::io::Write::flush(&mut f)?;
            }
            println!("{}: {} customers", out.display(), rows.len());
            Ok(ExitCode::SUCCESS)
        }),
        CustomersCommand::List {
            grade,
            owner,
            q,
            limit,
            db,
        } => rt.block_on(async {
            let store = Store::open(&db.url()).await?;
            let list = CustomerService::new(store.clone())
                .list(
                    &admin(),
                    &CustomerFilter {
                        grade,
                        owner,
                        q,
                        limit: Some(limit),
                        ..Default::default()
                    },
                    kefu_store::now_ms(),
                )
                .await?;
            store.close().await;
            for c in &list.items {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    c.id,
                    c.grade,
                    c.name,
                    c.owner_id.as_deref().unwrap_or("-"),
                    c.cadence_state
                );
            }
            let plus = if list.total_estimated { "+" } else { "" };
            println!("{} of {}{plus}", list.items.len(), list.total);
            Ok(ExitCode::SUCCESS)
        }),
        CustomersCommand::Show { id, db } => rt.block_on(async {
            let store = Store::open(&db.url()).await?;
            let svc = CustomerService::new(store.clone());
            let now = kefu_store::now_ms();
            let p = admin();
            let doc = serde_json::json!({
                "customer": svc.get(&p, &id, now).await?,
                "stats": svc.stats(&p, &id, now).await?,
                "timeline": svc.timeline(&p, &id, 50).await?,
                "grades": svc.grade_history(&p, &id).await?,
            });
            store.close().await;
            println!("{}", serde_json::to_string_pretty(&doc)?);
            Ok(ExitCode::SUCCESS)
        }),
        CustomersCommand::Grade {
            id,
            set,
            reason,
            db,
        } => rt.block_on(async {
            let store = Store::open(&db.url()).await?;
            let svc = CustomerService::new(store.clone());
            let now = kefu_store::now_ms();
            match (id, set) {
                (Some(id), Some(g)) => {
                    let grade = (g != "clear").then_some(g.as_str());
                    let v = svc
                        .override_grade(&admin(), &id, grade, &reason, now)
                        .await?;
                    println!(
                        "{}: {}{}",
                        v.id,
                        v.grade,
                        if v.grade_manual { " (manual)" } else { "" }
                    );
                }
                (Some(id), None) => {
                    let d = svc.regrade(&id, "cli", now).await?;
                    println!("{id}: {} — {}", d.grade, d.reason);
                }
                (None, _) => {
                    let changed = svc.regrade_all(&admin(), now).await?;
                    println!("{changed} customers changed grade");
                }
            }
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }),
        CustomersCommand::Merge {
            kept,
            merged,
            undo,
            db,
        } => rt.block_on(async {
            let store = Store::open(&db.url()).await?;
            let svc = CustomerService::new(store.clone());
            let now = kefu_store::now_ms();
            match (undo, kept, merged) {
                (Some(n), _, _) => {
                    let m = svc.undo_merge(&admin(), n, now).await?;
                    println!(
                        "merge {n} undone: {} is separate from {} again",
                        m.merged_id, m.kept_id
                    );
                }
                (None, Some(k), Some(m)) => {
                    let n = svc.merge(&admin(), &k, &m, now).await?;
                    println!("{m} merged into {k} (merge {n}; undo with --undo {n})");
                }
                _ => anyhow::bail!("give KEPT and MERGED, or --undo N"),
            }
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }),
        CustomersCommand::Sync { db } => rt.block_on(async {
            let store = Store::open(&db.url()).await?;
            let n = CustomerService::new(store.clone())
                .sync_complaint_contacts(kefu_store::now_ms())
                .await?;
            store.close().await;
            println!("{n} complaint contacts recorded");
            Ok(ExitCode::SUCCESS)
        }),
    }
}

/// One export row, in [`COLUMNS`] order.
fn export_row(v: &kefu_service::customer::CustomerView) -> Vec<String> {
    let p = &v.profile;
    let key = |kind: &str| {
        v.platform_ids
            .iter()
            .filter(|k| k.kind == kind)
            .map(|k| k.value.clone())
            .collect::<Vec<_>>()
            .join(";")
    };
    let date = |calendar: &str| {
        v.dates
            .iter()
            .find(|d| d.calendar == calendar && d.label == "生日")
            .map(|d| {
                let m = format!("{}{}", if d.leap { "闰" } else { "" }, d.month);
                match d.year {
                    Some(y) => format!("{y}-{m}-{}", d.day),
                    None => format!("{m}-{}", d.day),
                }
            })
            .unwrap_or_default()
    };
    let remind = v
        .dates
        .first()
        .map(|d| d.remind_days.to_string())
        .unwrap_or_default();
    let s = |o: &Option<String>| o.clone().unwrap_or_default();
    COLUMNS
        .iter()
        .map(|(k, _, _, _)| match *k {
            "id" => v.id.clone(),
            "name" => v.name.clone(),
            "owner" => v.owner_id.clone().unwrap_or_default(),
            "phones" => v.phones.join(";"),
            "native_id" => key("native"),
            "vendor_id" => key("vendor"),
            "nick" => key("nick"),
            "title" => s(&p.title),
            "region" => s(&p.region),
            "company" => s(&p.company),
            "department" => s(&p.department),
            "contact" => s(&p.contact),
            "usage" => s(&p.usage),
            "needed_by" => s(&p.needed_by),
            "quantity" => s(&p.quantity),
            "budget" => s(&p.budget),
            "invoice" => s(&p.invoice),
            "gender" => s(&p.gender),
            "age_band" => s(&p.age_band),
            "preferred_channel" => s(&p.preferred_channel),
            "preferred_time" => s(&p.preferred_time),
            "id_number" => s(&p.id_number),
            "notes" => s(&p.notes),
            "tags" => v.tags.join(";"),
            "do_not_disturb" => if v.do_not_disturb { "是" } else { "否" }.to_string(),
            "grade" => v.grade.clone(),
            "birthday" => date("solar"),
            "lunar_birthday" => date("lunar"),
            "remind_days" => remind.clone(),
            _ => String::new(),
        })
        .collect()
}
