//! Camera quirk policies ([`CameraPolicy`]) translated into retina's client options.
//!
//! Every workaround for a misbehaving camera lives here, in one table, instead of as
//! conditions scattered through the RTSP source: the configuration names a policy, this
//! module says which retina option it sets.

use std::num::NonZeroU32;

use retina::client::{
    InitialSequenceNumberPolicy, InitialTimestampPolicy, PlayOptions, SessionIdPolicy,
    SessionOptions, TeardownPolicy, UnknownRtcpSsrcPolicy,
};
use watchpost_config::CameraPolicy;

/// Largest forward jump of an RTP clock, in seconds, that `strict-timestamps` accepts.
pub(crate) const STRICT_MAX_JUMP_SECS: NonZeroU32 = NonZeroU32::new(10).unwrap();

/// The retina options a list of policies selects; retina's defaults where no policy speaks.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RetinaPolicies {
    /// `SessionOptions::teardown`.
    pub teardown: TeardownPolicy,
    /// `SessionOptions::session_id`.
    pub session_id: SessionIdPolicy,
    /// `PlayOptions::initial_timestamp`.
    pub initial_timestamp: InitialTimestampPolicy,
    /// `PlayOptions::initial_seq`.
    pub initial_seq: InitialSequenceNumberPolicy,
    /// `PlayOptions::unknown_rtcp_ssrc`.
    pub unknown_rtcp_ssrc: UnknownRtcpSsrcPolicy,
    /// `PlayOptions::enforce_timestamps_with_max_jump_secs`.
    pub max_timestamp_jump_secs: Option<NonZeroU32>,
}

impl RetinaPolicies {
    /// Resolves `policies` (in any order, duplicates allowed). Where two policies set the
    /// same option the more lenient wins, as documented on [`CameraPolicy`].
    pub(crate) fn from_policies(policies: &[CameraPolicy]) -> RetinaPolicies {
        let has = |p| policies.contains(&p);
        let mut out = RetinaPolicies::default();
        if has(CameraPolicy::AlwaysTeardown) {
            out.teardown = TeardownPolicy::Always;
        }
        if has(CameraPolicy::NeverTeardown) {
            out.teardown = TeardownPolicy::Never;
        }
        if has(CameraPolicy::UseFirstSessionId) {
            out.session_id = SessionIdPolicy::UseFirst;
        }
        if has(CameraPolicy::PermissiveRtpInfoTimestamps) {
            out.initial_timestamp = InitialTimestampPolicy::Permissive;
        }
        if has(CameraPolicy::IgnoreRtpInfoTimestamps) {
            out.initial_timestamp = InitialTimestampPolicy::Ignore;
        }
        if has(CameraPolicy::IgnoreRtpInfoSeq) {
            out.initial_seq = InitialSequenceNumberPolicy::Ignore;
        }
        if has(CameraPolicy::ProcessUnknownRtcpSsrc) {
            out.unknown_rtcp_ssrc = UnknownRtcpSsrcPolicy::ProcessPackets;
        }
        if has(CameraPolicy::StrictTimestamps) {
            out.max_timestamp_jump_secs = Some(STRICT_MAX_JUMP_SECS);
        }
        out
    }

    /// Applies the session-level options (teardown, session id) to `options`.
    pub(crate) fn session_options(&self, options: SessionOptions) -> SessionOptions {
        options.teardown(self.teardown).session_id(self.session_id)
    }

    /// The `PLAY` options.
    pub(crate) fn play_options(&self) -> PlayOptions {
        let options = PlayOptions::default()
            .initial_timestamp(self.initial_timestamp)
            .initial_seq(self.initial_seq)
            .unknown_rtcp_ssrc(self.unknown_rtcp_ssrc);
        match self.max_timestamp_jump_secs {
            Some(secs) => options.enforce_timestamps_with_max_jump_secs(secs),
            None => options,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The retina types have no `PartialEq`; their `Display` is their stable name.
    fn names(p: &RetinaPolicies) -> [String; 5] {
        [
            p.teardown.to_string(),
            p.session_id.to_string(),
            p.initial_timestamp.to_string(),
            p.initial_seq.to_string(),
            p.unknown_rtcp_ssrc.to_string(),
        ]
    }

    #[test]
    fn no_policy_means_retina_defaults() {
        let p = RetinaPolicies::from_policies(&[]);
        assert_eq!(
            names(&p),
            ["auto", "default", "default", "default", "default"]
        );
        assert_eq!(p.max_timestamp_jump_secs, None);
    }

    #[test]
    fn each_policy_sets_its_option() {
        use CameraPolicy::*;
        let cases: [(CameraPolicy, [&str; 5]); 7] = [
            (
                IgnoreRtpInfoTimestamps,
                ["auto", "default", "ignore", "default", "default"],
            ),
            (
                PermissiveRtpInfoTimestamps,
                ["auto", "default", "permissive", "default", "default"],
            ),
            (
                IgnoreRtpInfoSeq,
                ["auto", "default", "default", "ignore", "default"],
            ),
            (
                ProcessUnknownRtcpSsrc,
                ["auto", "default", "default", "default", "process-packets"],
            ),
            (
                UseFirstSessionId,
                ["auto", "use-first", "default", "default", "default"],
            ),
            (
                NeverTeardown,
                ["never", "default", "default", "default", "default"],
            ),
            (
                AlwaysTeardown,
                ["always", "default", "default", "default", "default"],
            ),
        ];
        for (policy, want) in cases {
            assert_eq!(
                names(&RetinaPolicies::from_policies(&[policy])),
                want,
                "{policy}"
            );
        }
        let strict = RetinaPolicies::from_policies(&[StrictTimestamps]);
        assert_eq!(strict.max_timestamp_jump_secs, Some(STRICT_MAX_JUMP_SECS));
    }

    #[test]
    fn the_more_lenient_policy_wins_in_any_order() {
        use CameraPolicy::*;
        for list in [
            [NeverTeardown, AlwaysTeardown],
            [AlwaysTeardown, NeverTeardown],
        ] {
            assert_eq!(
                RetinaPolicies::from_policies(&list).teardown.to_string(),
                "never"
            );
        }
        for list in [
            [IgnoreRtpInfoTimestamps, PermissiveRtpInfoTimestamps],
            [PermissiveRtpInfoTimestamps, IgnoreRtpInfoTimestamps],
        ] {
            assert_eq!(
                RetinaPolicies::from_policies(&list)
                    .initial_timestamp
                    .to_string(),
                "ignore"
            );
        }
    }
}
