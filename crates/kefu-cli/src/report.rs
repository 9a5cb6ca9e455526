//! `kefu report agents|rules|centre|assessment --period 2026-10`: KPIs
//! against targets, star ratings, violations and the assessment from the
//! database, as a terminal table, CSV, XLSX or JSON.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::ValueEnum;
use kefu_formats::export::{write_csv, write_xlsx, Cell, Column, ColumnKind, Lang, Table};
use kefu_formats::summary::render_table;
use kefu_service::kpi::{
    agents_table_in, centre_table_in, display_rows, rules_table, too_few_text,
};
use kefu_service::kpi::{assess, KpiService};
use kefu_service::period::Period;
use kefu_store::Store;

use crate::store::DatabaseArgs;
use crate::EXIT_UNUSABLE;

/// Which report.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum ReportKind {
    /// One row per agent: stars, what limits them, KPIs, most broken rules.
    Agents,
    /// Violations per rule, most broken first, with cumulative share.
    Rules,
    /// Every KPI of the centre and each team against its target.
    Centre,
    /// The weighted assessment (考核) with reward and coaching recommendations.
    Assessment,
}

/// Output format of a report.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum ReportFormat {
    /// A table for the terminal.
    Table,
    /// CSV (UTF-8 with BOM, opens in Excel).
    Csv,
    /// An Excel workbook (needs --out).
    Xlsx,
    /// The full report as JSON.
    Json,
}

#[derive(clap::Args)]
pub(crate) struct ReportArgs {
    /// agents, rules, centre or assessment.
    #[arg(value_enum)]
    kind: ReportKind,
    /// Period: 2026-10 (month), 2026-Q4, 2026-W44, 2026-10-05, 2026, or 2026-10-01..2026-10-15.
    #[arg(long)]
    period: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: ReportFormat,
    /// Where to write. Default: stdout.
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// Language of headers.
    #[arg(long, value_enum, default_value = "zh")]
    lang: crate::Lang,
    /// Rule pack for rule names (default: the built-in zh-CN pack).
    #[arg(long)]
    pack: Option<PathBuf>,
    #[command(flatten)]
    db: DatabaseArgs,
}

/// The assessment as a table.
fn assessment_table(
    results: &[kefu_service::kpi::AgentAssessment],
    scheme: &kefu_service::kpi::AssessmentScheme,
    lang: Lang,
) -> Table {
    let mut columns = vec![
        Column::new("rank", "排名", "Rank", ColumnKind::Integer),
        Column::new("agent_id", "坐席", "Agent", ColumnKind::Text),
        Column::new("name", "姓名", "Name", ColumnKind::Text),
        Column::new(
            "conversations",
            "会话数",
            "Conversations",
            ColumnKind::Integer,
        ),
    ];
    for i in &scheme.indicators {
        columns.push(Column::new(
            &i.id,
            &format!("{}({}%)", i.name, i.weight),
            &format!("{} ({}%)", i.name_en, i.weight),
            ColumnKind::Number,
        ));
    }
    columns.extend([
        Column::new("total", "总分", "Total", ColumnKind::Number),
        Column::new("stars", "星级", "Stars", ColumnKind::Integer),
        Column::new("recommendation", "建议", "Recommendation", ColumnKind::Text),
        Column::new(
            "focus_rules",
            "重点改进规则",
            "Rules to work on",
            ColumnKind::Text,
        ),
    ]);
    let mut t = Table::new("考核", "Assessment", columns);
    for a in results {
        let mut row = vec![
            a.rank.map_or(Cell::Empty, |r| Cell::Int(r as i64)),
            Cell::text(a.agent_id.as_str()),
            Cell::text(a.name.as_str()),
            Cell::Int(a.conversations),
        ];
        for i in &scheme.indicators {
            row.push(
                a.indicators
                    .get(&i.id)
                    .map_or(Cell::Empty, |v| Cell::Num(*v)),
            );
        }
        row.push(a.total.map_or(Cell::Empty, Cell::Num));
        row.push(a.stars.map_or(Cell::Empty, |s| Cell::Int(i64::from(s))));
        row.push(Cell::text(
            match (a.recommendation.as_deref(), &a.not_assessed) {
                (_, Some(few)) => too_few_text(few, lang.pick("不参评", "not assessed"), lang),
                (Some("reward"), _) => lang.pick("奖励", "reward").to_string(),
                (Some("coaching"), _) => lang.pick("辅导培训", "coaching").to_string(),
                _ => String::new(),
            },
        ));
        row.push(Cell::text(
            a.focus_rules
                .iter()
                .map(|f| {
                    format!(
                        "{} {:.1}% ({} {:.1}%)",
                        f.rule,
                        f.rate * 100.0,
                        lang.pick("中心", "centre"),
                        f.centre_rate * 100.0
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        ));
        t.rows.push(row);
    }
    t
}

pub(crate) fn report(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let period: Period = match args.period.parse() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(EXIT_UNUSABLE));
        }
    };
    let pack = match crate::load_inspector_with_source(args.pack.as_deref()) {
        Ok((inspector, _)) => inspector.pack().clone(),
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(EXIT_UNUSABLE));
        }
    };
    if matches!(args.format, ReportFormat::Xlsx) && args.out.is_none() {
        eprintln!("--format xlsx needs --out FILE.xlsx");
        return Ok(ExitCode::from(EXIT_UNUSABLE));
    }
    let lang: Lang = args.lang.into();
    let url = args.db.url();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let (report, settings) = rt.block_on(async {
        let store = Store::open(&url).await?;
        let kpis = KpiService::new(store.clone());
        let settings = kpis.settings().await?;
        let report = kpis.report_with(&period, &settings).await?;
        store.close().await;
        anyhow::Ok((report, settings))
    })?;
    let table = match args.kind {
        ReportKind::Agents => agents_table_in(&report, Some(&pack), lang),
        ReportKind::Rules => rules_table(&report, Some(&pack)),
        ReportKind::Centre => centre_table_in(&report, lang),
        ReportKind::Assessment => assessment_table(
            &assess(&report, &settings.assessment),
            &settings.assessment,
            lang,
        ),
    };
    let mut out: Box<dyn Write> = match &args.out {
        Some(path) if !matches!(args.format, ReportFormat::Xlsx) => Box::new(BufWriter::new(
            File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        _ => Box::new(BufWriter::new(io::stdout().lock())),
    };
    match args.format {
        ReportFormat::Table => {
            writeln!(
                out,
                "{} {} ({} – {})",
                table.name(lang),
                period.label,
                period.start,
                period.end.pred_opt().unwrap_or(period.end)
            )?;
            if table.rows.is_empty() {
                writeln!(
                    out,
                    "{}",
                    lang.pick("（本期没有数据）", "(no data in this period)")
                )?;
            } else {
                write!(out, "{}", render_table(&display_rows(&table, lang)))?;
            }
        }
        ReportFormat::Csv => write_csv(&table, lang, &mut out)?,
        ReportFormat::Xlsx => {
            let path = args.out.as_deref().context("--out is required for xlsx")?;
            write_xlsx(&[table], lang, path)?;
            eprintln!("wrote {}", path.display());
        }
        ReportFormat::Json => {
            let value = match args.kind {
                ReportKind::Assessment => {
                    serde_json::to_value(assess(&report, &settings.assessment))?
                }
                _ => serde_json::to_value(&report)?,
            };
            serde_json::to_writer_pretty(&mut out, &value)?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
