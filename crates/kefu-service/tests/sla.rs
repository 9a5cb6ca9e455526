//! Tests of the SLA clocks with hand-computed expectations.

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, TimeZone, Utc, Weekday};
use kefu_service::sla::{
    evaluate, BusinessCalendar, CalendarSpec, HolidayTable, HoursRange, Pause, SlaClock, SlaError,
    SlaInput, SlaPolicy, SlaState, SlaTargets, CHINA_STANDARD_TIME, CN_HOLIDAYS_TOML,
};

// ----------------------------------------------------------------- helpers

/// An instant given in Beijing time (+08:00).
fn bj(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    CHINA_STANDARD_TIME
        .with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .expect("valid test date")
        .with_timezone(&Utc)
}

fn hours(n: i64) -> TimeDelta {
    TimeDelta::hours(n)
}

fn mins(n: i64) -> TimeDelta {
    TimeDelta::minutes(n)
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
}

/// 09:00–12:00 and 13:30–18:00, Monday–Friday: 7.5 h a day, 37.5 h a week.
fn office() -> BusinessCalendar {
    BusinessCalendar::business_hours(&[
        HoursRange::hm(9, 0, 12, 0).expect("period"),
        HoursRange::hm(13, 30, 18, 0).expect("period"),
    ])
    .expect("calendar")
}

/// The office hours with China's holidays and make-up workdays.
fn cn_office() -> BusinessCalendar {
    office().with_holiday_table(&HolidayTable::cn_builtin())
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 9, 0, 0, 0)
        .single()
        .expect("valid")
}

fn report_at(input: &SlaInput, now: DateTime<Utc>) -> kefu_service::sla::SlaReport {
    evaluate(
        &SlaPolicy::default(),
        &BusinessCalendar::default(),
        input,
        now,
    )
}

/// The business-hours policy: standard 12 h / 48 h, counted on the calendar.
fn office_policy() -> SlaPolicy {
    SlaPolicy {
        business_hours: true,
        ..SlaPolicy::default()
    }
}

// ------------------------------------------------------------------- 24×7

#[test]
fn met_on_time_and_late_around_the_clock() {
    let mut input = SlaInput::new(t0());
    input.first_reply_at = Some(t0() + hours(11));
    let r = report_at(&input, t0() + hours(20));
    assert_eq!(r.first_reply.state, SlaState::Met { on_time: true });
    assert_eq!(r.first_reply.target, hours(12));
    assert_eq!(r.first_reply.elapsed, hours(11));
    assert_eq!(r.first_reply.remaining, hours(1));
    assert_eq!(r.first_reply.due_at, Some(t0() + hours(12)));
    // The resolution clock keeps running: 20 h of 48 h.
    assert_eq!(r.resolution.state, SlaState::Running);
    assert_eq!(r.resolution.elapsed, hours(20));
    assert_eq!(r.resolution.remaining, hours(28));
    assert_eq!(r.resolution.due_at, Some(t0() + hours(48)));

    input.first_reply_at = Some(t0() + hours(13));
    let r = report_at(&input, t0() + hours(20));
    assert_eq!(r.first_reply.state, SlaState::Met { on_time: false });
    assert!(r.first_reply.state.is_breach());
    assert_eq!(r.first_reply.elapsed, hours(13));
    assert_eq!(r.first_reply.remaining, TimeDelta::zero());
    assert_eq!(r.first_reply.due_at, Some(t0() + hours(12)));
    assert!(r.any_breach());

    // Met exactly at the deadline is on time.
    input.first_reply_at = Some(t0() + hours(12));
    let r = report_at(&input, t0() + hours(20));
    assert_eq!(r.first_reply.state, SlaState::Met { on_time: true });
}

#[test]
fn running_near_breach_and_breached_around_the_clock() {
    let input = SlaInput::new(t0());

    let r = report_at(&input, t0() + hours(5));
    assert_eq!(r.first_reply.state, SlaState::Running);
    assert_eq!(r.first_reply.elapsed, hours(5));
    assert_eq!(r.first_reply.remaining, hours(7));
    assert_eq!(r.first_reply.due_at, Some(t0() + hours(12)));

    // 80 % of 12 h is 9 h 36 min.
    let r = report_at(&input, t0() + hours(10));
    assert_eq!(r.first_reply.state, SlaState::NearBreach);
    assert_eq!(r.first_reply.remaining, hours(2));
    assert!(r.any_near_breach());
    let r = report_at(&input, t0() + hours(9) + mins(36));
    assert_eq!(r.first_reply.state, SlaState::NearBreach);
    let r = report_at(&input, t0() + hours(9) + mins(35));
    assert_eq!(r.first_reply.state, SlaState::Running);

    // With a ratio of 0.9 (10.8 h), 10 h is still running.
    let policy = SlaPolicy {
        near_breach_ratio: 0.9,
        ..SlaPolicy::default()
    };
    let r = evaluate(
        &policy,
        &BusinessCalendar::default(),
        &input,
        t0() + hours(10),
    );
    assert_eq!(r.first_reply.state, SlaState::Running);

    // Exactly 12 h is not yet a breach; 13 h is.
    let r = report_at(&input, t0() + hours(12));
    assert_eq!(r.first_reply.state, SlaState::NearBreach);
    assert_eq!(r.first_reply.remaining, TimeDelta::zero());
    let r = report_at(&input, t0() + hours(13));
    assert_eq!(r.first_reply.state, SlaState::Breached);
    assert_eq!(r.first_reply.elapsed, hours(13));
    assert_eq!(r.first_reply.remaining, TimeDelta::zero());
    assert_eq!(r.first_reply.due_at, Some(t0() + hours(12)));
    assert!(r.first_reply.state.is_open());
    // 13 h of 48 h: 27 %.
    assert_eq!(r.resolution.state, SlaState::Running);
    assert_eq!(r.resolution.remaining, hours(35));
}

#[test]
fn a_reply_recorded_after_now_is_not_met_yet() {
    let mut input = SlaInput::new(t0());
    input.first_reply_at = Some(t0() + hours(11));
    let r = report_at(&input, t0() + hours(10));
    assert_eq!(r.first_reply.state, SlaState::NearBreach);
    assert_eq!(r.first_reply.elapsed, hours(10));
}

#[test]
fn resolving_without_a_reply_stops_the_reply_clock() {
    let mut input = SlaInput::new(t0());
    input.resolved_at = Some(t0() + hours(6));
    let r = report_at(&input, t0() + hours(100));
    assert_eq!(r.first_reply.state, SlaState::Met { on_time: true });
    assert_eq!(r.first_reply.elapsed, hours(6));
    assert_eq!(r.resolution.state, SlaState::Met { on_time: true });
    assert!(!r.any_breach());
}

// ----------------------------------------------------------------- pauses

#[test]
fn a_pause_extends_the_deadline() {
    let mut input = SlaInput::new(t0());
    input.pauses = vec![Pause::closed(t0() + hours(2), t0() + hours(6))];
    let r = report_at(&input, t0() + hours(7));
    assert_eq!(r.first_reply.state, SlaState::Running);
    assert_eq!(r.first_reply.elapsed, hours(3));
    assert_eq!(r.first_reply.remaining, hours(9));
    assert_eq!(r.first_reply.due_at, Some(t0() + hours(16)));
    assert_eq!(r.resolution.due_at, Some(t0() + hours(52)));
    // Within the pause the clock stands still.
    let r = report_at(&input, t0() + hours(5));
    assert_eq!(r.first_reply.state, SlaState::Paused);
    assert_eq!(r.first_reply.elapsed, hours(2));
    assert_eq!(r.first_reply.due_at, None);
}

#[test]
fn an_open_pause_stops_the_clock_and_hides_the_deadline() {
    let mut input = SlaInput::new(t0());
    input.pauses = vec![Pause::open(t0() + hours(3))];
    let r = report_at(&input, t0() + hours(5));
    assert_eq!(r.first_reply.state, SlaState::Paused);
    assert_eq!(r.first_reply.elapsed, hours(3));
    assert_eq!(r.first_reply.remaining, hours(9));
    assert_eq!(r.first_reply.due_at, None);
    assert_eq!(r.resolution.state, SlaState::Paused);
    // Still 3 h a day later.
    let r = report_at(&input, t0() + hours(29));
    assert_eq!(r.first_reply.elapsed, hours(3));
    assert_eq!(r.first_reply.state, SlaState::Paused);
}

#[test]
fn a_breach_before_the_pause_stays_a_breach() {
    let mut input = SlaInput::new(t0());
    input.pauses = vec![Pause::open(t0() + hours(13))];
    let r = report_at(&input, t0() + hours(20));
    assert_eq!(r.first_reply.state, SlaState::Breached);
    assert_eq!(r.first_reply.elapsed, hours(13));
    assert_eq!(r.first_reply.due_at, Some(t0() + hours(12)));
    assert_eq!(r.resolution.state, SlaState::Paused);
}

#[test]
fn overlapping_pauses_count_once() {
    let mut input = SlaInput::new(t0());
    // [2, 6] ∪ [4, 8] ∪ [5, 7] ∪ [4, 8] = [2, 8]: 6 h, given out of order.
    input.pauses = vec![
        Pause::closed(t0() + hours(5), t0() + hours(7)),
        Pause::closed(t0() + hours(2), t0() + hours(6)),
        Pause::closed(t0() + hours(4), t0() + hours(8)),
        Pause::closed(t0() + hours(4), t0() + hours(8)),
    ];
    let r = report_at(&input, t0() + hours(10));
    assert_eq!(r.first_reply.elapsed, hours(4));
    assert_eq!(r.first_reply.due_at, Some(t0() + hours(18)));
    assert_eq!(r.resolution.due_at, Some(t0() + hours(54)));
}

#[test]
fn pauses_outside_the_window_do_not_count() {
    let mut input = SlaInput::new(t0());
    input.first_reply_at = Some(t0() + hours(11));
    input.pauses = vec![
        // Began before the complaint: only [0, 1 h] counts.
        Pause::closed(t0() - hours(5), t0() + hours(1)),
        // Entirely before the complaint.
        Pause::closed(t0() - hours(9), t0() - hours(8)),
        // After the first reply: irrelevant to it, 10 h off the resolution.
        Pause::closed(t0() + hours(30), t0() + hours(40)),
        // End before start: ignored.
        Pause::closed(t0() + hours(45), t0() + hours(44)),
    ];
    let r = report_at(&input, t0() + hours(50));
    assert_eq!(r.first_reply.state, SlaState::Met { on_time: true });
    assert_eq!(r.first_reply.elapsed, hours(10));
    assert_eq!(r.first_reply.due_at, Some(t0() + hours(13)));
    assert_eq!(r.resolution.elapsed, hours(39));
    assert_eq!(r.resolution.due_at, Some(t0() + hours(59)));
    assert_eq!(r.resolution.state, SlaState::NearBreach); // 39 ≥ 38.4
}

#[test]
fn a_scheduled_pause_after_the_deadline_does_not_move_it() {
    let mut input = SlaInput::new(t0());
    input.pauses = vec![Pause::closed(t0() + hours(20), t0() + hours(22))];
    let r = report_at(&input, t0() + hours(1));
    assert_eq!(r.first_reply.due_at, Some(t0() + hours(12)));
    assert_eq!(r.resolution.due_at, Some(t0() + hours(50)));
}

#[test]
fn pauses_in_business_hours_only_subtract_working_time() {
    // Opened Mon 2026-03-09 09:00; waiting on the customer from Mon 17:00 to
    // Tue 10:00, i.e. 1 h on Monday + 1 h on Tuesday of working time.
    let cal = cn_office();
    let mut input = SlaInput::new(bj(2026, 3, 9, 9, 0));
    input.pauses = vec![Pause::closed(bj(2026, 3, 9, 17, 0), bj(2026, 3, 10, 10, 0))];
    let r = evaluate(&office_policy(), &cal, &input, bj(2026, 3, 10, 11, 0));
    // Counted: Mon 09:00–17:00 minus lunch = 6.5 h, Tue 10:00–11:00 = 1 h.
    assert_eq!(r.first_reply.elapsed, hours(7) + mins(30));
    // 4.5 h left from Tue 11:00: 11:00–12:00 (1 h), 13:30 + 3.5 h = 17:00.
    assert_eq!(r.first_reply.due_at, Some(bj(2026, 3, 10, 17, 0)));
}

// --------------------------------------------------------- business hours

#[test]
fn friday_evening_complaint_is_due_on_tuesday() {
    // Opened Fri 2026-03-06 17:00 with a 12 h target:
    //   Fri 17:00–18:00            1.0 h  (11.0 h left)
    //   Sat, Sun                   —
    //   Mon 09:00–12:00, 13:30–18:00  7.5 h  (3.5 h left)
    //   Tue 09:00–12:00            3.0 h  (0.5 h left)
    //   Tue 13:30 + 0.5 h = 14:00.
    let cal = cn_office();
    let opened = bj(2026, 3, 6, 17, 0);
    assert_eq!(
        opened.with_timezone(&CHINA_STANDARD_TIME).weekday(),
        Weekday::Fri
    );
    assert_eq!(cal.add_business(opened, hours(12)), bj(2026, 3, 10, 14, 0));
    assert_eq!(
        cal.business_duration(opened, bj(2026, 3, 10, 14, 0)),
        hours(12)
    );

    let input = SlaInput::new(opened);
    let policy = office_policy();
    let r = evaluate(&policy, &cal, &input, bj(2026, 3, 9, 18, 0));
    assert_eq!(r.first_reply.state, SlaState::Running); // 8.5 h < 9.6 h
    assert_eq!(r.first_reply.elapsed, hours(8) + mins(30));
    assert_eq!(r.first_reply.remaining, hours(3) + mins(30));
    assert_eq!(r.first_reply.due_at, Some(bj(2026, 3, 10, 14, 0)));
    let r = evaluate(&policy, &cal, &input, bj(2026, 3, 10, 13, 0));
    assert_eq!(r.first_reply.state, SlaState::NearBreach); // 11.5 h
    assert_eq!(r.first_reply.elapsed, hours(11) + mins(30));
    let r = evaluate(&policy, &cal, &input, bj(2026, 3, 10, 14, 30));
    assert_eq!(r.first_reply.state, SlaState::Breached); // 12.5 h
    assert_eq!(r.first_reply.elapsed, hours(12) + mins(30));
}

#[test]
fn complaint_opened_during_lunch() {
    let cal = cn_office();
    let opened = bj(2026, 3, 9, 12, 30); // Monday
    assert_eq!(
        cal.business_duration(opened, bj(2026, 3, 9, 13, 30)),
        TimeDelta::zero()
    );
    // 4 h from 13:30 = 17:30.
    assert_eq!(cal.add_business(opened, hours(4)), bj(2026, 3, 9, 17, 30));
    // 12 h: Monday 13:30–18:00 (4.5 h) + all of Tuesday (7.5 h) = Tue 18:00,
    // the end of the period, not Wednesday 09:00.
    assert_eq!(cal.add_business(opened, hours(12)), bj(2026, 3, 10, 18, 0));
    // A deadline ending exactly at noon stays at noon.
    assert_eq!(
        cal.add_business(bj(2026, 3, 9, 9, 0), hours(3)),
        bj(2026, 3, 9, 12, 0)
    );
    // Zero duration: the start itself, even outside hours.
    assert_eq!(cal.add_business(opened, TimeDelta::zero()), opened);
}

#[test]
fn complaint_opened_on_a_holiday_monday() {
    // 2026-04-06 is the Monday of the Qingming holiday (4–6 April).
    let cal = cn_office();
    let opened = bj(2026, 4, 6, 10, 0);
    assert!(!cal.is_working_day(date(2026, 4, 6)));
    // Tue 7.5 h (4.5 h left), Wed 09:00–12:00 (1.5 h left), 13:30 + 1.5 h.
    assert_eq!(cal.add_business(opened, hours(12)), bj(2026, 4, 8, 15, 0));
    // Opened Fri 2026-04-03 17:00: Fri 1 h, the weekend and Monday off,
    // Tue 7.5 h, Wed 09:00–12:00 3 h, 13:30 + 0.5 h = Wed 14:00.
    assert_eq!(
        cal.add_business(bj(2026, 4, 3, 17, 0), hours(12)),
        bj(2026, 4, 8, 14, 0)
    );
    // Without the holiday table Monday counts: Mon 7.5 h, Tue 9–12 3 h, 14:00.
    assert_eq!(
        office().add_business(bj(2026, 4, 3, 17, 0), hours(12)),
        bj(2026, 4, 7, 14, 0)
    );
    assert_eq!(
        cal.business_duration(bj(2026, 4, 6, 0, 0), bj(2026, 4, 7, 0, 0)),
        TimeDelta::zero()
    );
}

#[test]
fn make_up_saturday_counts_and_spring_festival_is_skipped() {
    // 2026-02-14 (Sat) is a make-up workday; 15–23 February are off.
    let cal = cn_office();
    assert!(cal.is_working_day(date(2026, 2, 14)));
    assert_eq!(date(2026, 2, 14).weekday(), Weekday::Sat);
    assert!(!cal.is_working_day(date(2026, 2, 16)));
    assert!(!cal.is_working_day(date(2026, 2, 21)));
    assert_eq!(
        cal.periods_on(date(2026, 2, 14)),
        office().weekday_periods(Weekday::Mon)
    );
    assert_eq!(
        cal.business_duration(bj(2026, 2, 14, 0, 0), bj(2026, 2, 15, 0, 0)),
        hours(7) + mins(30)
    );
    // Opened Fri 2026-02-13 17:00: Fri 1 h (11 h left), Sat 14th 7.5 h
    // (3.5 h left), 15th–23rd off, Tue 24th 09:00–12:00 (0.5 h left),
    // 13:30 + 0.5 h = Tue 24th 14:00.
    let opened = bj(2026, 2, 13, 17, 0);
    assert_eq!(cal.add_business(opened, hours(12)), bj(2026, 2, 24, 14, 0));
    // Without the table: Fri 1 h, Mon 16th 7.5 h, Tue 17th 9–12, 14:00.
    assert_eq!(
        office().add_business(opened, hours(12)),
        bj(2026, 2, 17, 14, 0)
    );
    // Make-up days can have their own hours.
    let short = cal
        .clone()
        .with_makeup_periods(&[HoursRange::hm(10, 0, 16, 0).expect("period")])
        .expect("calendar");
    assert_eq!(
        short.business_duration(bj(2026, 2, 14, 0, 0), bj(2026, 2, 15, 0, 0)),
        hours(6)
    );
}

#[test]
fn national_day_week_and_its_make_up_saturday() {
    // Wed 2026-09-30 09:00; 1–7 October off; Sat 10 October is a workday.
    let cal = cn_office();
    let opened = bj(2026, 9, 30, 9, 0);
    assert_eq!(cal.add_business(opened, hours(15)), bj(2026, 10, 8, 18, 0));
    assert_eq!(
        cal.add_business(opened, hours(22) + mins(30)),
        bj(2026, 10, 9, 18, 0)
    );
    assert_eq!(cal.add_business(opened, hours(30)), bj(2026, 10, 10, 18, 0));
    assert_eq!(
        cal.add_business(opened, hours(30) + mins(30)),
        bj(2026, 10, 12, 9, 30)
    );
}

#[test]
fn long_targets_spanning_weeks() {
    let cal = cn_office();
    // 75 h = 10 working days: Mon 2026-03-09 09:00 → Fri 2026-03-20 18:00.
    assert_eq!(
        cal.add_business(bj(2026, 3, 9, 9, 0), hours(75)),
        bj(2026, 3, 20, 18, 0)
    );
    // 375 h = 10 weeks without holidays: Mon 2026-06-22 → Fri 2026-08-28.
    assert_eq!(
        cal.add_business(bj(2026, 6, 22, 9, 0), hours(375)),
        bj(2026, 8, 28, 18, 0)
    );
    // 2026 has 261 weekdays, 19 of them holidays, plus 6 make-up workdays:
    // 248 working days × 7.5 h = 1860 h.
    let year_start = bj(2026, 1, 1, 0, 0);
    let year_end = bj(2027, 1, 1, 0, 0);
    assert_eq!(cal.business_duration(year_start, year_end), hours(1860));
    assert_eq!(
        cal.add_business(year_start, hours(1860)),
        bj(2026, 12, 31, 18, 0)
    );
    // 2025: 261 weekdays, 18 holidays on weekdays, 5 make-up workdays: 248.
    assert_eq!(
        cal.business_duration(bj(2025, 1, 1, 0, 0), bj(2026, 1, 1, 0, 0)),
        hours(1860)
    );
    // Years without table entries are ordinary: 2030 has 261 weekdays.
    assert_eq!(
        cal.business_duration(bj(2030, 1, 1, 0, 0), bj(2031, 1, 1, 0, 0)),
        TimeDelta::minutes(261 * 450)
    );
    // Ten years ahead, still exact and fast: 2031-01-01 is a Wednesday;
    // 521 weeks later (Wed 2040-12-26) + Wed..Fri.
    let start = bj(2031, 1, 1, 9, 0);
    let d = TimeDelta::minutes(450 * (521 * 5 + 2));
    assert_eq!(cal.add_business(start, d), bj(2040, 12, 27, 18, 0));
}

#[test]
fn twenty_four_seven_ignores_holidays() {
    let cal = BusinessCalendar::always_open().with_holiday(date(2026, 10, 1));
    assert_eq!(
        cal.business_duration(bj(2026, 10, 1, 0, 0), bj(2026, 10, 2, 0, 0)),
        hours(24)
    );
    assert_eq!(
        cal.add_business(bj(2026, 10, 1, 0, 0), hours(30)),
        bj(2026, 10, 2, 6, 0)
    );
    assert!(cal.is_always_open());
}

#[test]
fn other_utc_offsets_and_whole_day_periods() {
    // A 24-hour Saturday desk at UTC-05:00, closed otherwise.
    let offset = chrono::FixedOffset::west_opt(5 * 3600).expect("offset");
    let cal = BusinessCalendar::always_open()
        .with_utc_offset(offset)
        .with_weekday(Weekday::Sat, &["00:00-24:00".parse().expect("period")])
        .expect("calendar");
    // Sat 2026-03-07 00:00 at -05:00 is 05:00 UTC.
    let sat = Utc
        .with_ymd_and_hms(2026, 3, 7, 5, 0, 0)
        .single()
        .expect("ok");
    assert_eq!(cal.add_business(sat, hours(24)), sat + hours(24));
    assert_eq!(cal.add_business(sat, hours(25)), sat + hours(7 * 24 + 1));
    assert_eq!(
        cal.business_duration(sat - hours(3), sat + hours(2)),
        hours(2)
    );
}

#[test]
fn calendar_validation() {
    assert!(matches!(
        BusinessCalendar::business_hours(&[
            HoursRange::hm(9, 0, 12, 0).expect("period"),
            HoursRange::hm(11, 0, 13, 0).expect("period"),
        ]),
        Err(SlaError::OverlappingPeriods { .. })
    ));
    assert_eq!(
        BusinessCalendar::business_hours(&[]),
        Err(SlaError::NoWorkingTime)
    );
    // Touching periods are fine.
    assert!(BusinessCalendar::business_hours(&[
        HoursRange::hm(0, 0, 12, 0).expect("period"),
        HoursRange::hm(12, 0, 24, 0).expect("period"),
    ])
    .is_ok());
    assert!(HoursRange::hm(12, 0, 9, 0).is_err());
    assert!(HoursRange::hm(9, 60, 10, 0).is_err());
    assert!("9:00".parse::<HoursRange>().is_err());
    assert!("12:00-09:00".parse::<HoursRange>().is_err());
    let p: HoursRange = "13:30-18:00".parse().expect("period");
    assert_eq!(p.to_string(), "13:30-18:00");
    assert_eq!(p.length(), hours(4) + mins(30));
    assert_eq!(
        "22:00-24:00".parse::<HoursRange>().expect("p").to_string(),
        "22:00-24:00"
    );
    // Removing the last working weekday is refused.
    let mut cal = office();
    for wd in [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu] {
        cal = cal.with_weekday(wd, &[]).expect("still has Friday");
    }
    assert_eq!(
        cal.with_weekday(Weekday::Fri, &[]),
        Err(SlaError::NoWorkingTime)
    );
}

// ------------------------------------------------------- special targets

#[test]
fn special_complaints_use_their_own_targets() {
    let mut input = SlaInput::new(t0());
    input.special = true;
    let r = report_at(&input, t0() + hours(13));
    assert_eq!(r.first_reply.target, hours(24));
    assert_eq!(r.first_reply.state, SlaState::Running);
    assert_eq!(r.first_reply.due_at, Some(t0() + hours(24)));
    assert_eq!(r.resolution.target, hours(72));
    assert_eq!(r.resolution.due_at, Some(t0() + hours(72)));

    // No reply target for special complaints, 96 h to resolve.
    let policy = SlaPolicy {
        special: Some(SlaTargets {
            first_reply: None,
            resolution: Some(hours(96)),
        }),
        ..SlaPolicy::default()
    };
    let r = evaluate(
        &policy,
        &BusinessCalendar::default(),
        &input,
        t0() + hours(100),
    );
    assert_eq!(r.first_reply.state, SlaState::NoTarget);
    assert_eq!(r.first_reply.elapsed, hours(100));
    assert_eq!(r.first_reply.due_at, None);
    assert_eq!(r.first_reply.remaining, TimeDelta::zero());
    assert!(!r.first_reply.state.is_breach());
    assert_eq!(r.resolution.state, SlaState::Breached);

    // special = None: special complaints follow the standard targets.
    let policy = SlaPolicy {
        special: None,
        ..SlaPolicy::default()
    };
    let r = evaluate(
        &policy,
        &BusinessCalendar::default(),
        &input,
        t0() + hours(13),
    );
    assert_eq!(r.first_reply.target, hours(12));
    assert_eq!(r.first_reply.state, SlaState::Breached);

    // No resolution target at all.
    let policy = SlaPolicy {
        resolution: None,
        ..SlaPolicy::default()
    };
    let r = evaluate(
        &policy,
        &BusinessCalendar::default(),
        &SlaInput::new(t0()),
        t0() + hours(1000),
    );
    assert_eq!(r.resolution.state, SlaState::NoTarget);
}

// ------------------------------------------------------------ settings

#[test]
fn policy_round_trips_through_json_and_toml() {
    let policy = SlaPolicy::default();
    let json = serde_json::to_string(&policy).expect("json");
    assert!(json.contains("\"first_reply\":\"12h\""), "{json}");
    assert_eq!(
        serde_json::from_str::<SlaPolicy>(&json).expect("back"),
        policy
    );
    let text = toml::to_string(&policy).expect("toml");
    assert_eq!(toml::from_str::<SlaPolicy>(&text).expect("back"), policy);

    let custom = SlaPolicy {
        first_reply: None,
        special: None,
        business_hours: true,
        ..SlaPolicy::default()
    };
    let text = toml::to_string(&custom).expect("toml");
    assert_eq!(toml::from_str::<SlaPolicy>(&text).expect("back"), custom);
    let json = serde_json::to_string(&custom).expect("json");
    assert_eq!(
        serde_json::from_str::<SlaPolicy>(&json).expect("back"),
        custom
    );

    let parsed: SlaPolicy = toml::from_str(
        r#"
        resolution = "2d"
        near_breach_ratio = 0.75
        special = { first_reply = "none", resolution = "96h" }
        "#,
    )
    .expect("settings");
    assert_eq!(parsed.first_reply, Some(hours(12)));
    assert_eq!(parsed.resolution, Some(hours(48)));
    assert_eq!(parsed.near_breach_ratio, 0.75);
    assert_eq!(
        parsed.special,
        Some(SlaTargets {
            first_reply: None,
            resolution: Some(hours(96))
        })
    );
    let parsed: SlaPolicy =
        serde_json::from_str(r#"{"first_reply": 3600, "resolution": null, "special": "standard"}"#)
            .expect("json settings");
    assert_eq!(parsed.first_reply, Some(hours(1)));
    assert_eq!(parsed.resolution, None);
    assert_eq!(parsed.special, None);

    assert!(toml::from_str::<SlaPolicy>("first_reply = \"12 parsecs\"").is_err());
    assert!(toml::from_str::<SlaPolicy>("frist_reply = \"12h\"").is_err());
    assert!(SlaPolicy::default().validate().is_ok());
    let bad = SlaPolicy {
        near_breach_ratio: 1.5,
        ..SlaPolicy::default()
    };
    assert_eq!(bad.validate(), Err(SlaError::InvalidRatio(1.5)));
    let bad = SlaPolicy {
        first_reply: Some(hours(-1)),
        ..SlaPolicy::default()
    };
    assert!(bad.validate().is_err());
}

#[test]
fn calendar_round_trips_through_toml() {
    let spec: CalendarSpec = toml::from_str(
        r#"
        utc_offset = "+08:00"
        always_open = false
        mon = ["09:00-12:00", "13:30-18:00"]
        tue = ["13:30-18:00", "09:00-12:00"]
        wed = ["09:00-12:00", "13:30-18:00"]
        thu = ["09:00-12:00", "13:30-18:00"]
        fri = ["09:00-12:00", "13:30-18:00"]
        holidays = ["2026-10-01"]
        workdays = ["2026-10-10"]
        "#,
    )
    .expect("spec");
    let cal = BusinessCalendar::try_from(spec).expect("calendar");
    let expected = office()
        .with_holiday(date(2026, 10, 1))
        .with_workday(date(2026, 10, 10));
    assert_eq!(cal, expected);
    let text = toml::to_string(&cal).expect("toml");
    assert_eq!(
        toml::from_str::<BusinessCalendar>(&text).expect("back"),
        cal
    );
    let json = serde_json::to_string(&cal).expect("json");
    assert_eq!(
        serde_json::from_str::<BusinessCalendar>(&json).expect("back"),
        cal
    );
    let default: BusinessCalendar = toml::from_str("").expect("default");
    assert_eq!(default, BusinessCalendar::default());

    assert!(toml::from_str::<BusinessCalendar>("always_open = false").is_err());
    assert!(toml::from_str::<BusinessCalendar>("utc_offset = \"CST\"").is_err());
    assert!(toml::from_str::<BusinessCalendar>(
        "always_open = false\nmon = [\"09:00-12:00\"]\nholidays = [\"2026-10-01\"]\nworkdays = [\"2026-10-01\"]"
    )
    .is_err());
}

#[test]
fn report_serialises_to_json() {
    let r = report_at(&SlaInput::new(t0()), t0() + hours(10));
    let json = serde_json::to_value(r).expect("json");
    assert_eq!(json["first_reply"]["state"]["kind"], "near_breach");
    assert_eq!(json["first_reply"]["elapsed"], "10h");
    assert_eq!(json["first_reply"]["remaining"], "2h");
    let back: kefu_service::sla::SlaReport = serde_json::from_value(json).expect("back");
    assert_eq!(back, r);
}

// ---------------------------------------------------------- holiday table

#[test]
fn shipped_holiday_table_has_2025_and_2026() {
    let table = HolidayTable::from_toml(CN_HOLIDAYS_TOML).expect("shipped table parses");
    assert_eq!(table, HolidayTable::cn_builtin());
    assert_eq!(table.years().collect::<Vec<_>>(), vec![2025, 2026]);
    assert!(table.covers(2026));
    assert!(!table.covers(2027));

    // 2026 Spring Festival: 15–23 February off, 14 and 28 February worked.
    for day in 15..=23 {
        assert!(table.is_holiday(date(2026, 2, day)), "2026-02-{day}");
    }
    assert!(!table.is_holiday(date(2026, 2, 24)));
    assert!(table.is_workday(date(2026, 2, 14)));
    assert!(table.is_workday(date(2026, 2, 28)));
    // 2025 Spring Festival: 28 January – 4 February, worked 26 Jan / 8 Feb.
    assert!(table.is_holiday(date(2025, 1, 28)));
    assert!(table.is_holiday(date(2025, 2, 4)));
    assert!(table.is_workday(date(2025, 1, 26)));
    assert!(table.is_workday(date(2025, 2, 8)));

    let y2025 = table.year(2025).expect("2025");
    let y2026 = table.year(2026).expect("2026");
    assert_eq!((y2025.holidays.len(), y2025.workdays.len()), (28, 5));
    assert_eq!((y2026.holidays.len(), y2026.workdays.len()), (33, 6));
    // Make-up workdays are always weekend days and never holidays.
    for d in table.workdays() {
        assert!(matches!(d.weekday(), Weekday::Sat | Weekday::Sun), "{d}");
        assert!(!table.is_holiday(d), "{d}");
    }
    // The weekdays printed in the notices.
    assert_eq!(date(2026, 1, 1).weekday(), Weekday::Thu);
    assert_eq!(date(2026, 2, 15).weekday(), Weekday::Sun);
    assert_eq!(date(2026, 10, 7).weekday(), Weekday::Wed);
    assert_eq!(date(2025, 1, 28).weekday(), Weekday::Tue);
    assert_eq!(date(2025, 10, 8).weekday(), Weekday::Wed);
}

#[test]
fn holiday_table_accepts_bare_dates_and_merges() {
    let extra = HolidayTable::from_toml(
        "[[years]]\nyear = 2027\nholidays = [2027-01-01, \"2027-02-06..2027-02-08\"]\nworkdays = []\n",
    )
    .expect("table");
    assert_eq!(extra.holidays().len(), 4);
    let mut table = HolidayTable::cn_builtin();
    table.merge(extra);
    assert_eq!(table.years().collect::<Vec<_>>(), vec![2025, 2026, 2027]);
    assert!(table.is_holiday(date(2027, 2, 7)));
    assert_eq!(
        HolidayTable::from_toml("").expect("empty"),
        HolidayTable::new()
    );
}

#[test]
fn holiday_table_errors_carry_line_numbers() {
    let err = |text: &str| HolidayTable::from_toml(text).expect_err("should fail");

    let e = err("[[years]]\nyear = 2026\nholidays = [\n  \"2026-02-30\",\n]\n");
    assert!(
        matches!(&e, SlaError::HolidayEntry { line: 4, message } if message.contains("2026-02-30")),
        "{e}"
    );
    assert!(e.to_string().contains("line 4"), "{e}");

    let e = err("[[years]]\nyear = 2026\nholidays = [\"2026-02-23..2026-02-15\"]\n");
    assert!(matches!(&e, SlaError::HolidayEntry { line: 3, .. }), "{e}");
    assert!(e.to_string().contains("ends before it starts"), "{e}");

    let e = err(
        "[[years]]\nyear = 2026\nholidays = [\"2026-02-14..2026-02-16\"]\nworkdays = [\"2026-02-14\"]\n",
    );
    assert!(matches!(&e, SlaError::HolidayEntry { line: 4, .. }), "{e}");
    assert!(e.to_string().contains("also at line 3"), "{e}");

    let e = err("[[years]]\nyear = 2026\n\n[[years]]\nyear = 2026\n");
    assert!(matches!(&e, SlaError::HolidayEntry { line: 5, .. }), "{e}");

    let e = err("[[years]]\nyear = 2026\nholidays = [\"2062-01-01\"]\n");
    assert!(e.to_string().contains("more than a year away"), "{e}");

    let e = err("[[years]]\nyear = 2026\nholiday = [\"2026-01-01\"]\n");
    assert!(
        matches!(&e, SlaError::HolidayToml { line: Some(3), .. }),
        "{e}"
    );

    let e = err("[[years]]\nyear = 2026\nholidays = [\"2026-01-01\"\n");
    assert!(
        matches!(&e, SlaError::HolidayToml { line: Some(_), .. }),
        "{e}"
    );
    assert!(
        e.to_string().starts_with("invalid holiday table at line"),
        "{e}"
    );

    let e = err("[[years]]\nyear = 2026\nholidays = [42]\n");
    assert!(matches!(&e, SlaError::HolidayEntry { line: 3, .. }), "{e}");
}

// -------------------------------------------------------------- clock API

#[test]
fn clock_counts_and_projects() {
    let cal = cn_office();
    let opened = bj(2026, 3, 6, 17, 0);
    let pauses = [Pause::closed(bj(2026, 3, 9, 9, 0), bj(2026, 3, 9, 12, 0))];
    let clock = SlaClock::new(&cal, opened, &pauses);
    assert_eq!(clock.opened_at(), opened);
    // Fri 1 h + Mon afternoon 4.5 h.
    assert_eq!(clock.counted(bj(2026, 3, 9, 18, 0)), hours(5) + mins(30));
    assert_eq!(clock.counted(opened - hours(1)), TimeDelta::zero());
    assert!(clock.is_paused_at(bj(2026, 3, 9, 10, 0)));
    assert!(!clock.is_paused_at(bj(2026, 3, 9, 12, 0)));
    // The Monday-morning pause moves the 12 h deadline by 3 working hours:
    // Tue 14:00 + 3 h → 17:00.
    assert_eq!(clock.due_at(hours(12)), Some(bj(2026, 3, 10, 17, 0)));
}

// ------------------------------------------------------ property-style

/// A small deterministic generator (64-bit LCG, upper bits).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 11
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn calendars() -> Vec<BusinessCalendar> {
    let odd = BusinessCalendar::always_open()
        .with_utc_offset(chrono::FixedOffset::west_opt(5 * 3600 + 1800).expect("offset"))
        .with_weekday(
            Weekday::Tue,
            &[
                "00:00-02:00".parse().expect("p"),
                "22:00-24:00".parse().expect("p"),
            ],
        )
        .expect("cal")
        .with_weekday(Weekday::Sat, &["10:15-10:45".parse().expect("p")])
        .expect("cal")
        .with_holiday(date(2026, 3, 3))
        .with_workday(date(2026, 3, 8))
        .with_makeup_periods(&["08:00-08:07".parse().expect("p")])
        .expect("cal");
    vec![cn_office(), office(), BusinessCalendar::default(), odd]
}

#[test]
fn add_business_inverts_business_duration() {
    let mut rng = Lcg(0x5eed_2026);
    let base = bj(2024, 12, 1, 0, 0);
    for cal in calendars() {
        for _ in 0..400 {
            // Any second within ~26 months, sometimes with nanoseconds.
            let mut start = base + TimeDelta::seconds(rng.below(26 * 31 * 86_400) as i64);
            if rng.below(4) == 0 {
                start += TimeDelta::nanoseconds(rng.below(1_000_000_000) as i64);
            }
            let d = match rng.below(4) {
                0 => TimeDelta::minutes(rng.below(8 * 60) as i64),
                1 => TimeDelta::seconds(rng.below(400 * 3600) as i64),
                2 => TimeDelta::hours(rng.below(2000) as i64),
                _ => TimeDelta::nanoseconds(rng.below(u64::MAX >> 34) as i64),
            };
            let due = cal.add_business(start, d);
            assert!(due >= start);
            assert_eq!(
                cal.business_duration(start, due),
                d,
                "start {start}, d {d}, due {due}"
            );
            if d > TimeDelta::zero() {
                // The earliest such instant.
                assert!(
                    cal.business_duration(start, due - TimeDelta::nanoseconds(1)) < d,
                    "start {start}, d {d}, due {due}"
                );
            }
        }
    }
}

#[test]
fn business_duration_matches_a_minute_by_minute_count() {
    let mut rng = Lcg(42);
    let base = bj(2025, 12, 20, 0, 0);
    for cal in calendars() {
        for _ in 0..60 {
            let from = base + TimeDelta::minutes(rng.below(120 * 24 * 60) as i64);
            let to = from + TimeDelta::minutes(rng.below(6 * 24 * 60) as i64);
            let mut counted = 0i64;
            let mut t = from;
            while t < to {
                let local = t.with_timezone(&cal.utc_offset()).naive_local();
                let clock = local.time();
                let working = cal.periods_on(local.date()).iter().any(|p| {
                    p.start() <= clock && (clock < p.end() || p.end() == chrono::NaiveTime::MIN)
                });
                if working {
                    counted += 1;
                }
                t += TimeDelta::minutes(1);
            }
            assert_eq!(
                cal.business_duration(from, to),
                TimeDelta::minutes(counted),
                "{from} .. {to}"
            );
        }
    }
}
