//! The KPI service: settings, period reports and assessment runs over the
//! store.

use std::collections::HashMap;

use kefu_store::{AssessmentRow, AuditEntry, Store, StoreError};
use serde::Serialize;

use super::{
    assess_with, build_report, AgentAssessment, AssessmentScheme, ComplaintFacts, IndicatorSource,
    PeriodReport, Person, QualitySettings, SETTINGS_KEY,
};
use crate::error::Error;
use crate::period::Period;

/// Reads what reports need and computes them.
pub struct KpiService {
    store: Store,
}

/// Settings that cannot be used.
pub(crate) fn invalid_settings(reason: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("invalid quality settings: {reason}"))
}

impl KpiService {
    /// A service over `store`.
    pub fn new(store: Store) -> KpiService {
        KpiService { store }
    }

    /// The stored settings, or the defaults.
    pub async fn settings(&self) -> Result<QualitySettings, Error> {
        match self.store.setting(SETTINGS_KEY).await? {
            None => Ok(QualitySettings::default()),
            Some(text) => {
                serde_json::from_str(&text).map_err(|e| Error::corrupt("quality settings", e))
            }
        }
    }

    /// Validates and stores settings.
    pub async fn set_settings(
        &self,
        settings: &QualitySettings,
        by: &str,
        now: i64,
    ) -> Result<(), Error> {
        settings.validate().map_err(invalid_settings)?;
        let text = serde_json::to_string(settings).map_err(invalid_settings)?;
        Ok(self.store.put_setting(SETTINGS_KEY, &text, by, now).await?)
    }

    /// KPIs and ratings of every agent, team and the centre for `period`.
    pub async fn report(&self, period: &Period) -> Result<PeriodReport, Error> {
        let settings = self.settings().await?;
        self.report_with(period, &settings).await
    }

    /// Like [`KpiService::report`] with the given settings.
    pub async fn report_with(
        &self,
        period: &Period,
        settings: &QualitySettings,
    ) -> Result<PeriodReport, Error> {
        let rollups = self
            .store
            .rollups(period.start_day(), period.end_day())
            .await?;
        let complaints = self.complaint_facts(period, settings).await?;
        let people = self.people().await?;
        Ok(build_report(
            period,
            &rollups,
            &complaints,
            &people,
            settings,
        ))
    }

    async fn people(&self) -> Result<HashMap<String, Person>, Error> {
        Ok(self
            .store
            .users()
            .await?
            .into_iter()
            .map(|u| {
                let person = Person {
                    name: u.display_name,
                    team: u.team,
                };
                (u.id, person)
            })
            .collect())
    }

    async fn complaint_facts(
        &self,
        period: &Period,
        settings: &QualitySettings,
    ) -> Result<HashMap<String, ComplaintFacts>, Error> {
        let (from, to) = period.utc_ms(settings.utc_offset_s);
        let mut out: HashMap<String, ComplaintFacts> = HashMap::new();
        for t in self.store.complaint_tallies(from, to).await? {
            let f = out.entry(t.agent.unwrap_or_default()).or_default();
            f.complaints += 1;
            let decided = |s: &str| matches!(s, "met" | "met_late" | "breached");
            if decided(&t.reply_sla) {
                f.reply.1 += 1;
                f.reply.0 += i64::from(t.reply_sla == "met");
            }
            if decided(&t.resolve_sla) {
                f.resolve.1 += 1;
                f.resolve.0 += i64::from(t.resolve_sla == "met");
            }
            let survey = serde_json::from_str::<serde_json::Value>(&t.doc)
                .ok()
                .and_then(|d| d.get("survey")?.get("result_score")?.as_i64());
            if let Some(s) = survey {
                f.surveys.push(s);
            }
        }
        let now = chrono::Utc::now().timestamp_millis();
        for (agent, due, done) in self.store.revisit_tallies(from, to).await? {
            // Not done and not yet due: not decided either way.
            if done.is_none() && due > now {
                continue;
            }
            let f = out.entry(agent.unwrap_or_default()).or_default();
            f.revisits.1 += 1;
            f.revisits.0 += i64::from(done.is_some_and(|d| d <= due));
        }
        Ok(out)
    }
}

impl KpiService {
    /// Each agent's mean counted mystery-shop score in `period` (empty
    /// unless the scheme has a `mystery_shop` indicator).
    pub async fn mystery_scores(
        &self,
        period: &Period,
        settings: &QualitySettings,
    ) -> Result<HashMap<String, f64>, Error> {
        let used = settings
            .assessment
            .indicators
            .iter()
            .any(|i| i.source == IndicatorSource::MysteryShop);
        if !used {
            return Ok(HashMap::new());
        }
        let (from, to) = period.utc_ms(settings.utc_offset_s);
        crate::mystery::MysteryService::new(self.store.clone())
            .agent_scores(from, to)
            .await
    }
}

/// A stored assessment run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssessmentRun {
    /// Id.
    pub id: i64,
    /// Period label.
    pub period: String,
    /// `draft` or `published` (frozen).
    pub status: String,
    /// The scheme used.
    pub scheme: AssessmentScheme,
    /// Per agent, best first.
    pub results: Vec<AgentAssessment>,
    /// Who ran it.
    pub created_by: String,
    /// When, Unix ms.
    #[serde(with = "kefu_store::json_time::unix_ms")]
    pub created_at: i64,
    /// Who published it.
    pub published_by: Option<String>,
    /// When, Unix ms.
    #[serde(with = "kefu_store::json_time::opt_unix_ms")]
    pub published_at: Option<i64>,
}

impl KpiService {
    /// Runs the assessment of `period` with the current scheme and stores it
    /// as a draft (replacing an earlier draft of the same period).
    pub async fn run_assessment(
        &self,
        period: &Period,
        by: &crate::auth::Principal,
        now: i64,
    ) -> Result<AssessmentRun, Error> {
        let settings = self.settings().await?;
        let report = self.report_with(period, &settings).await?;
        let mystery = self.mystery_scores(period, &settings).await?;
        let results = assess_with(&report, &settings.assessment, &mystery);
        let scheme = serde_json::to_string(&settings.assessment).map_err(invalid_settings)?;
        let body = serde_json::to_string(&results).map_err(invalid_settings)?;
        let mut tx = self.store.write().await?;
        let id = tx
            .replace_draft_assessment(&period.label, &scheme, &body, &by.user_id, now)
            .await?;
        tx.append_audit(&AuditEntry {
            at: now,
            actor_id: by.user_id.clone(),
            actor_role: by.role.as_str().to_string(),
            entity: "assessment".into(),
            entity_id: id.to_string(),
            action: "run".into(),
            detail: serde_json::json!({"period": period.label, "agents": results.len()}),
        })
        .await?;
        tx.commit().await?;
        self.assessment(id)
            .await?
            .ok_or_else(|| Error::Internal(format!("assessment {id} vanished after it was stored")))
    }

    /// Publishes (freezes) a draft. A period has at most one published run.
    pub async fn publish_assessment(
        &self,
        id: i64,
        by: &crate::auth::Principal,
        now: i64,
    ) -> Result<Option<AssessmentRun>, Error> {
        let mut tx = self.store.write().await?;
        let published = match tx.publish_assessment(id, &by.user_id, now).await {
            Err(StoreError::Conflict(_)) => {
                return Err(Error::Conflict(
                    "this period already has a published assessment".into(),
                ))
            }
            other => other?,
        };
        if published {
            tx.append_audit(&AuditEntry {
                at: now,
                actor_id: by.user_id.clone(),
                actor_role: by.role.as_str().to_string(),
                entity: "assessment".into(),
                entity_id: id.to_string(),
                action: "published".into(),
                detail: serde_json::json!({}),
            })
            .await?;
        }
        tx.commit().await?;
        self.assessment(id).await
    }

    /// One assessment run.
    pub async fn assessment(&self, id: i64) -> Result<Option<AssessmentRun>, Error> {
        self.store
            .assessment(id)
            .await?
            .map(assessment_run)
            .transpose()
    }

    /// Assessment runs, newest first (results included).
    pub async fn assessments(&self) -> Result<Vec<AssessmentRun>, Error> {
        self.store
            .assessments(200)
            .await?
            .into_iter()
            .map(assessment_run)
            .collect()
    }
}

pub(crate) fn assessment_run(r: AssessmentRow) -> Result<AssessmentRun, Error> {
    let bad = |e: serde_json::Error| Error::corrupt(format!("assessment {}", r.id), e);
    Ok(AssessmentRun {
        scheme: serde_json::from_str(&r.scheme).map_err(bad)?,
        results: serde_json::from_str(&r.results).map_err(bad)?,
        id: r.id,
        period: r.period,
        status: r.status,
        created_by: r.created_by,
        created_at: r.created_at,
        published_by: r.published_by,
        published_at: r.published_at,
    })
}
