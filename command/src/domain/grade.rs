//! Casualty and loss figures, the accident grade computed from them, and the warning and
//! response levels that are kept separately from the grade.
//!
//! # The grade (State Council order 493, art. 3)
//!
//! | grade | deaths (incl. missing) | serious injuries (incl. acute poisoning) | direct loss |
//! |---|---|---|---|
//! | especially serious | ≥ 30 | ≥ 100 | ≥ ¥100,000,000 |
//! | major | 10 – 29 | 50 – 99 | ¥50,000,000 – ¥99,999,999 |
//! | larger | 3 – 9 | 10 – 49 | ¥10,000,000 – ¥49,999,999 |
//! | general | 0 – 2 | 0 – 9 | ¥0 – ¥9,999,999 |
//!
//! Article 3's last paragraph: "以上" (*or more*) includes the number, "以下" (*below*)
//! excludes it — so every threshold is a `>=` on its lower bound: 30 deaths is especially
//! serious, 29 is major; ¥100,000,000 exactly is especially serious. Each criterion gives a
//! grade on its own and **the highest wins** ([`AccidentGrade::from_figures`]); a tie is
//! attributed to the first criterion in the regulation's order (deaths, serious injuries,
//! direct loss).
//!
//! **Missing persons count as deaths for the grade.** Article 3 speaks of deaths only, but
//! art. 12 requires reports to state casualties "including those missing" (包括下落不明的人数),
//! and the national production-safety emergency plan and accident statistics grade by
//! "deaths (including missing)" (死亡（含失踪）). A missing person is a possible death
//! until found, and the grade decides how far up the chain the report must go, so the
//! grade errs on the side of reporting higher: `deaths + missing`. When a missing person
//! is found alive the operator lowers `missing` and the grade is recomputed.
//!
//! **Unknown is not zero.** Each figure is optional: `None` means "not yet reported",
//! `Some(0)` means "reported: none". For the grade an unknown figure counts as 0 (the grade
//! is the lowest one the known figures establish, and rises as figures arrive); the API
//! shows `null`, not `0`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::FieldError;

/// The most persons any count may hold; more is refused as implausible (the deadliest
/// industrial accidents on record are in the low thousands).
pub const MAX_PERSONS: i64 = 100_000;
/// The largest direct loss accepted, in yuan (¥1 trillion; the costliest accidents on
/// record are in the tens of billions).
pub const MAX_LOSS_YUAN: i64 = 1_000_000_000_000;

/// Accident grade by order 493 art. 3, ordered from the least to the most serious
/// (`General < Larger < Major < EspeciallySerious`).
///
/// Serialized as `general`, `larger`, `major`, `especially_serious`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AccidentGrade {
    /// 一般事故: below every threshold of [`Larger`](Self::Larger).
    General,
    /// 较大事故: 3 – 9 deaths, 10 – 49 serious injuries or ¥10 M – ¥50 M.
    Larger,
    /// 重大事故: 10 – 29 deaths, 50 – 99 serious injuries or ¥50 M – ¥100 M.
    Major,
    /// 特别重大事故: ≥ 30 deaths, ≥ 100 serious injuries or ≥ ¥100 M.
    EspeciallySerious,
}

/// The lower bounds of one grade: reaching any one of them (`>=`) gives at least that grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Thresholds {
    /// Deaths including missing persons.
    pub deaths: i64,
    /// Serious injuries including acute industrial poisoning.
    pub serious_injuries: i64,
    /// Direct economic loss, whole yuan.
    pub direct_loss_yuan: i64,
}

impl AccidentGrade {
    /// Every grade, least serious first.
    pub const ALL: [AccidentGrade; 4] = [
        AccidentGrade::General,
        AccidentGrade::Larger,
        AccidentGrade::Major,
        AccidentGrade::EspeciallySerious,
    ];

    /// The lower bounds of this grade; `None` for [`General`](Self::General), which has
    /// none (it is what remains below [`Larger`](Self::Larger)).
    pub const fn thresholds(self) -> Option<Thresholds> {
        match self {
            AccidentGrade::General => None,
            AccidentGrade::Larger => Some(Thresholds {
                deaths: 3,
                serious_injuries: 10,
                direct_loss_yuan: 10_000_000,
            }),
            AccidentGrade::Major => Some(Thresholds {
                deaths: 10,
                serious_injuries: 50,
                direct_loss_yuan: 50_000_000,
            }),
            AccidentGrade::EspeciallySerious => Some(Thresholds {
                deaths: 30,
                serious_injuries: 100,
                direct_loss_yuan: 100_000_000,
            }),
        }
    }

    /// The grade and the criterion that decided it (see the module documentation).
    /// Unknown figures count as 0; the figures are assumed valid ([`Figures::validate`]),
    /// negative values count as 0 all the same.
    pub fn from_figures(figures: &Figures) -> Grading {
        let by = |value: i64, pick: fn(Thresholds) -> i64| -> AccidentGrade {
            AccidentGrade::ALL
                .into_iter()
                .rev()
                .find(|grade| grade.thresholds().is_none_or(|t| value >= pick(t)))
                .unwrap_or(AccidentGrade::General)
        };
        let candidates = [
            (
                by(figures.counted_deaths(), |t| t.deaths),
                Criterion::Deaths,
            ),
            (
                by(figures.serious_injuries.unwrap_or(0), |t| {
                    t.serious_injuries
                }),
                Criterion::SeriousInjuries,
            ),
            (
                by(figures.direct_loss_yuan.unwrap_or(0), |t| {
                    t.direct_loss_yuan
                }),
                Criterion::DirectLoss,
            ),
        ];
        let mut grading = Grading {
            grade: AccidentGrade::General,
            criterion: Criterion::NoThreshold,
        };
        // Strictly greater: a tie keeps the earlier criterion, in the regulation's order.
        for (grade, criterion) in candidates {
            if grade > grading.grade {
                grading = Grading { grade, criterion };
            }
        }
        grading
    }
}

impl fmt::Display for AccidentGrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AccidentGrade::General => "general",
            AccidentGrade::Larger => "larger",
            AccidentGrade::Major => "major",
            AccidentGrade::EspeciallySerious => "especially serious",
        })
    }
}

/// Which figure decided an accident grade. Serialized in snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    /// Deaths including missing persons.
    Deaths,
    /// Serious injuries including acute industrial poisoning.
    SeriousInjuries,
    /// Direct economic loss.
    DirectLoss,
    /// No figure reaches a threshold of [`AccidentGrade::Larger`]: the grade is general.
    NoThreshold,
}

/// A computed grade and the criterion that decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Grading {
    /// The grade.
    pub grade: AccidentGrade,
    /// The figure that reached the grade's threshold ([`Criterion::NoThreshold`] for a
    /// general accident).
    pub criterion: Criterion,
}

/// Casualty and loss figures as reported so far. `None` is "not yet reported" (shown as
/// `null`), distinct from `Some(0)`; an absent JSON field is `None`.
///
/// The fields are plain `i64` so that any number a client sends reaches
/// [`validate`](Self::validate), which names the field of an impossible value.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(default, deny_unknown_fields)]
pub struct Figures {
    /// Confirmed deaths (persons).
    pub deaths: Option<i64>,
    /// Missing persons (下落不明); counted with the deaths for the grade.
    pub missing: Option<i64>,
    /// Serious injuries including acute industrial poisoning (persons).
    pub serious_injuries: Option<i64>,
    /// Direct economic loss, preliminary estimate, whole yuan.
    pub direct_loss_yuan: Option<i64>,
}

impl Figures {
    /// Every invalid figure, with its field name (`deaths`, `missing`, `serious_injuries`,
    /// `direct_loss_yuan`): negative, or above [`MAX_PERSONS`] / [`MAX_LOSS_YUAN`].
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let persons = [
            ("deaths", self.deaths),
            ("missing", self.missing),
            ("serious_injuries", self.serious_injuries),
        ];
        for (field, value) in persons {
            if let Some(value) = value {
                if value < 0 {
                    errors.push(FieldError::new(
                        field,
                        format!(
                            "must not be negative (got {value}); use 0 for none, null when unknown"
                        ),
                    ));
                } else if value > MAX_PERSONS {
                    errors.push(FieldError::new(
                        field,
                        format!("{value} persons is implausible: at most {MAX_PERSONS} are accepted; check the figure"),
                    ));
                }
            }
        }
        if let Some(value) = self.direct_loss_yuan {
            if value < 0 {
                errors.push(FieldError::new(
                    "direct_loss_yuan",
                    format!("must not be negative (got {value}); use 0 for none, null when not yet estimated"),
                ));
            } else if value > MAX_LOSS_YUAN {
                errors.push(FieldError::new(
                    "direct_loss_yuan",
                    format!("¥{value} is implausible: at most ¥{MAX_LOSS_YUAN} is accepted; the unit is whole yuan, not fen"),
                ));
            }
        }
        errors
    }

    /// Deaths plus missing persons, unknown counted as 0, negatives as 0: the value the
    /// deaths criterion grades.
    pub fn counted_deaths(&self) -> i64 {
        let deaths = self.deaths.unwrap_or(0).max(0);
        let missing = self.missing.unwrap_or(0).max(0);
        deaths.saturating_add(missing)
    }

    /// The grade these figures give ([`AccidentGrade::from_figures`]).
    pub fn grading(&self) -> Grading {
        AccidentGrade::from_figures(self)
    }
}

/// Early-warning level (预警级别), set by the command centre, ordered from the lowest
/// (`Blue`) to the highest (`Red`). Independent of the accident grade.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum WarningLevel {
    /// 蓝色: level IV warning, the lowest.
    Blue,
    /// 黄色: level III warning.
    Yellow,
    /// 橙色: level II warning.
    Orange,
    /// 红色: level I warning, the highest.
    Red,
}

impl fmt::Display for WarningLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WarningLevel::Blue => "blue",
            WarningLevel::Yellow => "yellow",
            WarningLevel::Orange => "orange",
            WarningLevel::Red => "red",
        })
    }
}

/// Emergency response level (应急响应级别), set by the command centre, ordered from the
/// lowest (`Level4`, IV) to the highest (`Level1`, I). Independent of the accident grade.
///
/// Serialized as the Roman numeral in lowercase: `iv`, `iii`, `ii`, `i`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub enum ResponseLevel {
    /// Ⅳ级响应, the lowest.
    #[serde(rename = "iv")]
    Level4,
    /// Ⅲ级响应.
    #[serde(rename = "iii")]
    Level3,
    /// Ⅱ级响应.
    #[serde(rename = "ii")]
    Level2,
    /// Ⅰ级响应, the highest.
    #[serde(rename = "i")]
    Level1,
}

impl fmt::Display for ResponseLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResponseLevel::Level4 => "level IV",
            ResponseLevel::Level3 => "level III",
            ResponseLevel::Level2 => "level II",
            ResponseLevel::Level1 => "level I",
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn deaths(n: i64) -> Figures {
        Figures {
            deaths: Some(n),
            ..Figures::default()
        }
    }

    fn injuries(n: i64) -> Figures {
        Figures {
            serious_injuries: Some(n),
            ..Figures::default()
        }
    }

    fn loss(yuan: i64) -> Figures {
        Figures {
            direct_loss_yuan: Some(yuan),
            ..Figures::default()
        }
    }

    fn grade(f: Figures) -> AccidentGrade {
        AccidentGrade::from_figures(&f).grade
    }

    use AccidentGrade::{EspeciallySerious, General, Larger, Major};

    #[test]
    fn death_boundaries() {
        for (n, expected) in [
            (0, General),
            (2, General),
            (3, Larger),
            (9, Larger),
            (10, Major),
            (29, Major),
            (30, EspeciallySerious),
            (31, EspeciallySerious),
        ] {
            assert_eq!(grade(deaths(n)), expected, "{n} deaths");
        }
    }

    #[test]
    fn serious_injury_boundaries() {
        for (n, expected) in [
            (0, General),
            (9, General),
            (10, Larger),
            (49, Larger),
            (50, Major),
            (99, Major),
            (100, EspeciallySerious),
        ] {
            assert_eq!(grade(injuries(n)), expected, "{n} serious injuries");
        }
    }

    #[test]
    fn loss_boundaries_in_yuan() {
        for (yuan, expected) in [
            (0, General),
            (9_999_999, General),
            (10_000_000, Larger),
            (49_999_999, Larger),
            (50_000_000, Major),
            (99_999_999, Major),
            (100_000_000, EspeciallySerious),
        ] {
            assert_eq!(grade(loss(yuan)), expected, "¥{yuan}");
        }
    }

    #[test]
    fn missing_persons_count_as_deaths() {
        let f = Figures {
            deaths: Some(2),
            missing: Some(1),
            ..Figures::default()
        };
        assert_eq!(
            f.grading(),
            Grading {
                grade: Larger,
                criterion: Criterion::Deaths
            }
        );
        let f = Figures {
            missing: Some(30),
            ..Figures::default()
        };
        assert_eq!(grade(f), EspeciallySerious);
    }

    #[test]
    fn unknown_figures_grade_as_zero_but_stay_unknown() {
        let f = Figures::default();
        assert_eq!(
            f.grading(),
            Grading {
                grade: General,
                criterion: Criterion::NoThreshold
            }
        );
        let json = serde_json::to_value(f).expect("json");
        assert_eq!(json["deaths"], serde_json::Value::Null);
        let parsed: Figures = serde_json::from_str(r#"{"deaths": 0}"#).expect("json");
        assert_eq!(parsed.deaths, Some(0));
        assert_eq!(parsed.missing, None);
    }

    #[test]
    fn highest_criterion_wins_and_ties_go_to_the_first() {
        let f = Figures {
            deaths: Some(3),                   // larger
            serious_injuries: Some(50),        // major
            direct_loss_yuan: Some(1_000_000), // general
            missing: None,
        };
        assert_eq!(
            f.grading(),
            Grading {
                grade: Major,
                criterion: Criterion::SeriousInjuries
            }
        );
        let f = Figures {
            deaths: Some(10),
            serious_injuries: Some(50),
            direct_loss_yuan: Some(50_000_000),
            missing: None,
        };
        assert_eq!(f.grading().criterion, Criterion::Deaths);
        assert_eq!(loss(200_000_000).grading().criterion, Criterion::DirectLoss);
    }

    #[test]
    fn validation_names_each_field() {
        let f = Figures {
            deaths: Some(-1),
            missing: Some(MAX_PERSONS + 1),
            serious_injuries: Some(MAX_PERSONS),
            direct_loss_yuan: Some(-5),
        };
        let errors = f.validate();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["deaths", "missing", "direct_loss_yuan"]);
        assert!(errors[0].reason.contains("negative"), "{}", errors[0]);
        assert!(errors[1].reason.contains("implausible"), "{}", errors[1]);
        let f = Figures {
            deaths: Some(0),
            missing: Some(MAX_PERSONS),
            serious_injuries: None,
            direct_loss_yuan: Some(MAX_LOSS_YUAN),
        };
        assert!(f.validate().is_empty());
        assert!(loss(MAX_LOSS_YUAN + 1).validate()[0].reason.contains("fen"));
    }

    #[test]
    fn level_names_on_the_wire() {
        let text =
            serde_json::to_string(&[ResponseLevel::Level1, ResponseLevel::Level4]).expect("json");
        assert_eq!(text, r#"["i","iv"]"#);
        let text = serde_json::to_string(&(EspeciallySerious, WarningLevel::Orange)).expect("json");
        assert_eq!(text, r#"["especially_serious","orange"]"#);
        assert!(ResponseLevel::Level1 > ResponseLevel::Level2);
        assert!(WarningLevel::Red > WarningLevel::Orange);
    }

    fn figure() -> impl Strategy<Value = Option<i64>> {
        prop_oneof![
            1 => Just(None),
            4 => (0i64..200).prop_map(Some),
            1 => (0i64..=MAX_PERSONS).prop_map(Some),
        ]
    }

    fn money() -> impl Strategy<Value = Option<i64>> {
        prop_oneof![
            1 => Just(None),
            2 => (0i64..200_000_000).prop_map(Some),
            1 => (0i64..=MAX_LOSS_YUAN).prop_map(Some),
        ]
    }

    pub(crate) fn figures() -> impl Strategy<Value = Figures> {
        (figure(), figure(), figure(), money()).prop_map(|(d, m, s, l)| Figures {
            deaths: d,
            missing: m,
            serious_injuries: s,
            direct_loss_yuan: l,
        })
    }

    /// The grade a single criterion gives, written independently of `from_figures`.
    fn reference(d: i64, s: i64, l: i64) -> AccidentGrade {
        let by_deaths = match d {
            30.. => EspeciallySerious,
            10..=29 => Major,
            3..=9 => Larger,
            _ => General,
        };
        let by_injuries = match s {
            100.. => EspeciallySerious,
            50..=99 => Major,
            10..=49 => Larger,
            _ => General,
        };
        let by_loss = match l {
            100_000_000.. => EspeciallySerious,
            50_000_000..=99_999_999 => Major,
            10_000_000..=49_999_999 => Larger,
            _ => General,
        };
        by_deaths.max(by_injuries).max(by_loss)
    }

    proptest! {
        #[test]
        fn grade_matches_the_table(f in figures()) {
            let g = f.grading();
            prop_assert!(f.validate().is_empty());
            prop_assert_eq!(
                g.grade,
                reference(
                    f.counted_deaths(),
                    f.serious_injuries.unwrap_or(0),
                    f.direct_loss_yuan.unwrap_or(0)
                )
            );
            prop_assert_eq!(g.grade == General, g.criterion == Criterion::NoThreshold);
        }

        #[test]
        fn grade_is_monotone_in_each_figure(f in figures(), field in 0usize..4, more in 0i64..1_000_000_000) {
            let mut g = f;
            let slot = match field {
                0 => &mut g.deaths,
                1 => &mut g.missing,
                2 => &mut g.serious_injuries,
                _ => &mut g.direct_loss_yuan,
            };
            *slot = Some(slot.unwrap_or(0).saturating_add(more));
            prop_assert!(g.grading().grade >= f.grading().grade);
        }

        #[test]
        fn the_deciding_criterion_alone_gives_the_grade(f in figures()) {
            let g = f.grading();
            let alone = match g.criterion {
                Criterion::Deaths => deaths(f.counted_deaths()),
                Criterion::SeriousInjuries => injuries(f.serious_injuries.unwrap_or(0)),
                Criterion::DirectLoss => loss(f.direct_loss_yuan.unwrap_or(0)),
                Criterion::NoThreshold => Figures::default(),
            };
            prop_assert_eq!(alone.grading().grade, g.grade);
        }
    }
}
