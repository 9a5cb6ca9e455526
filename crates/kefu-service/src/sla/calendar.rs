//! The business calendar: week hours, holidays and make-up workdays, and
//! counting business time over it.

use std::collections::BTreeSet;

use chrono::{
    DateTime, Datelike, Days, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc,
    Weekday,
};
use serde::{Deserialize, Serialize};

use super::{
    day_total, format_utc_offset, mul, nanos, normalise_periods, overlap, parse_utc_offset,
    walk_day, weekday_index, HolidayTable, HoursRange, SlaError, WeekHours, CHINA_STANDARD_TIME,
    DAY, ZERO,
};

/// When time counts for an SLA: either around the clock (24×7, the
/// default) or only in business hours, with holidays and make-up workdays.
///
/// * Business hours are a list of [`HoursRange`]s per weekday (by default
///   Monday–Friday).
/// * `holidays` are days off even when they fall on a weekday.
/// * `workdays` are make-up workdays (调休上班) that count even on a weekend;
///   they use the make-up periods (by default those of Monday, or of the
///   first weekday that has any).
/// * Holidays and workdays only matter in business-hours mode.
/// * Local time is a fixed UTC offset (default `+08:00`); instants in and out
///   are UTC.
///
/// Invariant: a business-hours calendar has some working time in an
/// ordinary week, so every deadline exists.
///
/// Serde uses the [`CalendarSpec`] form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "CalendarSpec", into = "CalendarSpec")]
pub struct BusinessCalendar {
    offset: FixedOffset,
    hours: Option<WeekHours>,
    holidays: BTreeSet<NaiveDate>,
    workdays: BTreeSet<NaiveDate>,
}

impl Default for BusinessCalendar {
    /// 24×7 at `+08:00`.
    fn default() -> Self {
        Self::always_open()
    }
}

impl BusinessCalendar {
    /// A calendar where all time counts (24×7), at `+08:00`.
    pub fn always_open() -> Self {
        BusinessCalendar {
            offset: CHINA_STANDARD_TIME,
            hours: None,
            holidays: BTreeSet::new(),
            workdays: BTreeSet::new(),
        }
    }

    /// A business-hours calendar with `periods` on Monday–Friday, nothing at
    /// the weekend, no holidays yet, at `+08:00`.
    ///
    /// ```
    /// use kefu_service::sla::{BusinessCalendar, HoursRange};
    /// let cal = BusinessCalendar::business_hours(&[
    ///     HoursRange::hm(9, 0, 12, 0).unwrap(),
    ///     HoursRange::hm(13, 30, 18, 0).unwrap(),
    /// ]).unwrap();
    /// # let _ = cal;
    /// ```
    ///
    /// # Errors
    ///
    /// [`SlaError::OverlappingPeriods`], or [`SlaError::NoWorkingTime`] when
    /// `periods` is empty.
    pub fn business_hours(periods: &[HoursRange]) -> Result<Self, SlaError> {
        let day = normalise_periods(periods)?;
        let mut week: [Vec<HoursRange>; 7] = Default::default();
        for slot in week.iter_mut().take(5) {
            slot.clone_from(&day);
        }
        let hours = WeekHours { week, makeup: None };
        if hours.week_total() <= ZERO {
            return Err(SlaError::NoWorkingTime);
        }
        Ok(BusinessCalendar {
            offset: CHINA_STANDARD_TIME,
            hours: Some(hours),
            holidays: BTreeSet::new(),
            workdays: BTreeSet::new(),
        })
    }

    /// Sets the UTC offset of local time.
    pub fn with_utc_offset(mut self, offset: FixedOffset) -> Self {
        self.offset = offset;
        self
    }

    /// Sets the periods of one weekday (an empty list = day off). Turns a
    /// 24×7 calendar into a business-hours one with no other working days.
    ///
    /// # Errors
    ///
    /// [`SlaError::OverlappingPeriods`], or [`SlaError::NoWorkingTime`] when
    /// no weekday has any working time afterwards.
    pub fn with_weekday(
        mut self,
        weekday: Weekday,
        periods: &[HoursRange],
    ) -> Result<Self, SlaError> {
        let day = normalise_periods(periods)?;
        let hours = self.hours.get_or_insert_with(|| WeekHours {
            week: Default::default(),
            makeup: None,
        });
        hours.week[weekday_index(weekday)] = day;
        if hours.week_total() <= ZERO {
            return Err(SlaError::NoWorkingTime);
        }
        Ok(self)
    }

    /// Sets the periods used on make-up workdays (by default those of
    /// Monday, or of the first weekday that has any). Has no effect on a
    /// 24×7 calendar.
    ///
    /// # Errors
    ///
    /// [`SlaError::OverlappingPeriods`].
    pub fn with_makeup_periods(mut self, periods: &[HoursRange]) -> Result<Self, SlaError> {
        let day = normalise_periods(periods)?;
        if let Some(hours) = &mut self.hours {
            hours.makeup = Some(day);
        }
        Ok(self)
    }

    /// Adds a day off (removing it from the make-up workdays if present).
    pub fn with_holiday(mut self, date: NaiveDate) -> Self {
        self.workdays.remove(&date);
        self.holidays.insert(date);
        self
    }

    /// Adds a make-up workday (removing it from the holidays if present).
    pub fn with_workday(mut self, date: NaiveDate) -> Self {
        self.holidays.remove(&date);
        self.workdays.insert(date);
        self
    }

    /// Adds every holiday and make-up workday of `table`; where a date was
    /// already present with the other meaning, the table wins.
    pub fn with_holiday_table(mut self, table: &HolidayTable) -> Self {
        for year in table.years.values() {
            for d in &year.holidays {
                self.workdays.remove(d);
                self.holidays.insert(*d);
            }
            for d in &year.workdays {
                self.holidays.remove(d);
                self.workdays.insert(*d);
            }
        }
        self
    }

    /// The UTC offset of local time.
    pub fn utc_offset(&self) -> FixedOffset {
        self.offset
    }

    /// Whether all time counts (24×7).
    pub fn is_always_open(&self) -> bool {
        self.hours.is_none()
    }

    /// The holidays (days off) known to the calendar.
    pub fn holidays(&self) -> &BTreeSet<NaiveDate> {
        &self.holidays
    }

    /// The make-up workdays known to the calendar.
    pub fn workdays(&self) -> &BTreeSet<NaiveDate> {
        &self.workdays
    }

    /// The periods of a weekday in an ordinary week (the whole day when
    /// 24×7).
    pub fn weekday_periods(&self, weekday: Weekday) -> &[HoursRange] {
        match &self.hours {
            None => std::slice::from_ref(&HoursRange::WHOLE_DAY),
            Some(h) => &h.week[weekday_index(weekday)],
        }
    }

    /// The working periods of a local date, holidays and make-up workdays
    /// taken into account (the whole day when 24×7).
    pub fn periods_on(&self, date: NaiveDate) -> &[HoursRange] {
        match &self.hours {
            None => std::slice::from_ref(&HoursRange::WHOLE_DAY),
            Some(h) => {
                if self.workdays.contains(&date) {
                    h.makeup()
                } else if self.holidays.contains(&date) {
                    &[]
                } else {
                    &h.week[weekday_index(date.weekday())]
                }
            }
        }
    }

    /// Whether any time counts on a local date.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        !self.periods_on(date).is_empty()
    }

    /// The local date and wall-clock time of an instant.
    pub fn local(&self, t: DateTime<Utc>) -> NaiveDateTime {
        match t.naive_utc().checked_add_offset(self.offset) {
            Some(l) => l,
            None if self.offset.local_minus_utc() > 0 => NaiveDateTime::MAX,
            None => NaiveDateTime::MIN,
        }
    }

    fn to_utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        match local.checked_sub_offset(self.offset) {
            Some(n) => n.and_utc(),
            None if local.year() < 1970 => DateTime::<Utc>::MIN_UTC,
            None => DateTime::<Utc>::MAX_UTC,
        }
    }

    fn at(&self, date: NaiveDate, offset: TimeDelta) -> DateTime<Utc> {
        match date.and_time(NaiveTime::MIN).checked_add_signed(offset) {
            Some(l) => self.to_utc(l),
            None => DateTime::<Utc>::MAX_UTC,
        }
    }

    /// The first holiday or make-up workday on or after `from`.
    fn next_special(&self, from: NaiveDate) -> Option<NaiveDate> {
        let h = self.holidays.range(from..).next();
        let w = self.workdays.range(from..).next();
        match (h, w) {
            (Some(a), Some(b)) => Some(*a.min(b)),
            (a, b) => a.or(b).copied(),
        }
    }

    /// Working time of the whole local days `[a, b)` that contain no holiday
    /// or make-up workday: whole weeks at once, then the rest day by day.
    fn ordinary_days(hours: &WeekHours, a: NaiveDate, b: NaiveDate) -> TimeDelta {
        let n = b.signed_duration_since(a).num_days();
        if n <= 0 {
            return ZERO;
        }
        let mut total = mul(hours.week_total(), i128::from(n / 7));
        let mut wd = a.weekday();
        for _ in 0..n % 7 {
            total += day_total(&hours.week[weekday_index(wd)]);
            wd = wd.succ();
        }
        total
    }

    /// Working time of the whole local days `[a, b)`.
    fn whole_days(&self, hours: &WeekHours, a: NaiveDate, b: NaiveDate) -> TimeDelta {
        let mut total = ZERO;
        let mut cur = a;
        while cur < b {
            let next = self.next_special(cur).filter(|d| *d < b).unwrap_or(b);
            total += Self::ordinary_days(hours, cur, next);
            if next >= b {
                break;
            }
            total += day_total(self.periods_on(next));
            match next.succ_opt() {
                Some(n) => cur = n,
                None => break,
            }
        }
        total
    }

    /// Working time between two instants (zero when `to <= from`).
    ///
    /// Runs in time proportional to the number of holidays and make-up
    /// workdays between the two instants, not to their distance.
    pub fn business_duration(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
        if to <= from {
            return ZERO;
        }
        let Some(hours) = &self.hours else {
            return to.signed_duration_since(from);
        };
        let (lf, lt) = (self.local(from), self.local(to));
        let (df, dt) = (lf.date(), lt.date());
        let off_f = lf.time().signed_duration_since(NaiveTime::MIN);
        let off_t = lt.time().signed_duration_since(NaiveTime::MIN);
        if df == dt {
            return overlap(self.periods_on(df), off_f, off_t);
        }
        let mut total =
            overlap(self.periods_on(df), off_f, DAY) + overlap(self.periods_on(dt), ZERO, off_t);
        if let Some(next) = df.succ_opt() {
            total += self.whole_days(hours, next, dt);
        }
        total
    }

    /// The earliest instant at which `d` of working time has elapsed after
    /// `start` — the deadline of a target `d` for a clock started at
    /// `start`. A zero or negative `d` gives `start`; a deadline that falls
    /// exactly at the end of a period is that end, not the next period's
    /// start.
    ///
    /// Whole weeks between holidays / make-up workdays are skipped at once,
    /// so long durations cost no more than short ones. Saturates at
    /// [`DateTime::<Utc>::MAX_UTC`].
    ///
    /// `business_duration(start, add_business(start, d)) == d` for any
    /// `d >= 0` whose deadline is in range.
    pub fn add_business(&self, start: DateTime<Utc>, d: TimeDelta) -> DateTime<Utc> {
        if d <= ZERO {
            return start;
        }
        let Some(hours) = &self.hours else {
            return start
                .checked_add_signed(d)
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
        };
        let week = nanos(hours.week_total());
        let local = self.local(start);
        let mut date = local.date();
        let mut rem = d;
        let off = local.time().signed_duration_since(NaiveTime::MIN);
        match walk_day(self.periods_on(date), off, rem) {
            Ok(end) => return self.at(date, end),
            Err(used) => rem -= used,
        }
        loop {
            // Here rem > 0: walk_day only fails when the day gave less.
            let Some(next) = date.succ_opt() else {
                return DateTime::<Utc>::MAX_UTC;
            };
            date = next;
            let special = self.next_special(date);
            if week > 0 {
                // Skip whole ordinary weeks while more than a week remains.
                let gap_weeks = special.map_or(i128::MAX, |s| {
                    i128::from(s.signed_duration_since(date).num_days() / 7)
                });
                let k = ((nanos(rem) - 1) / week).min(gap_weeks);
                if k > 0 {
                    let Some(skipped) = u64::try_from(k * 7)
                        .ok()
                        .and_then(|days| date.checked_add_days(Days::new(days)))
                    else {
                        return DateTime::<Utc>::MAX_UTC;
                    };
                    date = skipped;
                    rem -= mul(hours.week_total(), k);
                }
            } else if special.is_none() {
                // Not reachable through the public API (invariant), but never
                // loop forever.
                return DateTime::<Utc>::MAX_UTC;
            }
            match walk_day(self.periods_on(date), ZERO, rem) {
                Ok(end) => return self.at(date, end),
                Err(used) => rem -= used,
            }
        }
    }
}

/// The serde form of a [`BusinessCalendar`], e.g. in TOML:
///
/// ```toml
/// utc_offset = "+08:00"
/// always_open = false
/// mon = ["09:00-12:00", "13:30-18:00"]
/// tue = ["09:00-12:00", "13:30-18:00"]
/// # … wed, thu, fri, sat, sun (missing = day off)
/// makeup = ["09:00-12:00", "13:30-18:00"]   # optional
/// holidays = ["2026-10-01"]
/// workdays = ["2026-10-10"]
/// ```
///
/// Every field is optional; the default is 24×7 at `+08:00`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CalendarSpec {
    /// Local time's UTC offset, e.g. `"+08:00"`.
    pub utc_offset: String,
    /// `true` = all time counts (24×7); the weekday lists must then be empty.
    pub always_open: bool,
    /// Monday's periods.
    pub mon: Vec<HoursRange>,
    /// Tuesday's periods.
    pub tue: Vec<HoursRange>,
    /// Wednesday's periods.
    pub wed: Vec<HoursRange>,
    /// Thursday's periods.
    pub thu: Vec<HoursRange>,
    /// Friday's periods.
    pub fri: Vec<HoursRange>,
    /// Saturday's periods.
    pub sat: Vec<HoursRange>,
    /// Sunday's periods.
    pub sun: Vec<HoursRange>,
    /// Periods of make-up workdays; missing = those of the first weekday
    /// (Monday first) that has any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub makeup: Option<Vec<HoursRange>>,
    /// Days off.
    pub holidays: BTreeSet<NaiveDate>,
    /// Make-up workdays.
    pub workdays: BTreeSet<NaiveDate>,
}

impl Default for CalendarSpec {
    fn default() -> Self {
        BusinessCalendar::default().into()
    }
}

impl From<BusinessCalendar> for CalendarSpec {
    fn from(cal: BusinessCalendar) -> Self {
        let (always_open, week, makeup) = match cal.hours {
            None => (true, Default::default(), None),
            Some(h) => (false, h.week, h.makeup),
        };
        let [mon, tue, wed, thu, fri, sat, sun] = week;
        CalendarSpec {
            utc_offset: format_utc_offset(cal.offset),
            always_open,
            mon,
            tue,
            wed,
            thu,
            fri,
            sat,
            sun,
            makeup,
            holidays: cal.holidays,
            workdays: cal.workdays,
        }
    }
}

impl TryFrom<CalendarSpec> for BusinessCalendar {
    type Error = SlaError;

    fn try_from(spec: CalendarSpec) -> Result<Self, SlaError> {
        let offset = parse_utc_offset(&spec.utc_offset)?;
        if let Some(d) = spec.holidays.intersection(&spec.workdays).next() {
            return Err(SlaError::ConflictingDate(*d));
        }
        let week = [
            spec.mon, spec.tue, spec.wed, spec.thu, spec.fri, spec.sat, spec.sun,
        ];
        let hours = if spec.always_open {
            if week.iter().any(|p| !p.is_empty()) || spec.makeup.is_some() {
                return Err(SlaError::InvalidCalendar(
                    "always_open = true, but business-hours periods are given".to_owned(),
                ));
            }
            None
        } else {
            let mut norm: [Vec<HoursRange>; 7] = Default::default();
            for (slot, periods) in norm.iter_mut().zip(&week) {
                *slot = normalise_periods(periods)?;
            }
            let makeup = match &spec.makeup {
                Some(p) => Some(normalise_periods(p)?),
                None => None,
            };
            let hours = WeekHours { week: norm, makeup };
            if hours.week_total() <= ZERO {
                return Err(SlaError::NoWorkingTime);
            }
            Some(hours)
        };
        Ok(BusinessCalendar {
            offset,
            hours,
            holidays: spec.holidays,
            workdays: spec.workdays,
        })
    }
}
