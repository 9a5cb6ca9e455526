//! The dashboard's sections ([`Section`]): navigation order, where each
//! lives, its label, and which roles may use it; and the navigation's links.

use kefu_service::auth::Role;

use crate::web::i18n::msg;

/// A part of the dashboard, as listed in the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    /// 概览.
    Overview,
    /// 会话.
    Conversations,
    /// 复核队列.
    Review,
    /// 申诉.
    Appeals,
    /// 投诉.
    Complaints,
    /// 客户.
    Customers,
    /// 信息反馈.
    Feedback,
    /// 交接班.
    Handover,
    /// 神秘客户.
    Mystery,
    /// 坐席.
    Agents,
    /// 规则包.
    Packs,
    /// 用户与设置.
    Admin,
}

impl Section {
    /// In navigation order.
    pub(crate) const ALL: [Section; 12] = [
        Section::Overview,
        Section::Conversations,
        Section::Review,
        Section::Appeals,
        Section::Complaints,
        Section::Customers,
        Section::Feedback,
        Section::Handover,
        Section::Mystery,
        Section::Agents,
        Section::Packs,
        Section::Admin,
    ];

    /// Where it lives.
    pub(crate) fn href(self) -> &'static str {
        match self {
            Section::Overview => "/",
            Section::Conversations => "/conversations",
            Section::Review => "/review",
            Section::Appeals => "/appeals",
            Section::Complaints => "/complaints",
            Section::Customers => "/customers",
            Section::Feedback => "/feedback",
            Section::Handover => "/handovers",
            Section::Mystery => "/mystery",
            Section::Agents => "/agents",
            Section::Packs => "/packs",
            Section::Admin => "/admin",
        }
    }

    /// Message key of its name.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Section::Overview => msg("nav.overview"),
            Section::Conversations => msg("nav.conversations"),
            Section::Review => msg("nav.review"),
            Section::Appeals => msg("nav.appeals"),
            Section::Complaints => msg("nav.complaints"),
            Section::Customers => msg("nav.customers"),
            Section::Feedback => msg("nav.feedback"),
            Section::Handover => msg("nav.handover"),
            Section::Mystery => msg("nav.mystery"),
            Section::Agents => msg("nav.agents"),
            Section::Packs => msg("nav.packs"),
            Section::Admin => msg("nav.admin"),
        }
    }

    /// Whether `role` may use it. Agents: their own overview, conversations,
    /// appeals and complaints. Staff: everything but users and settings,
    /// which are the admins'.
    pub(crate) fn allowed(self, role: Role) -> bool {
        match self {
            Section::Overview
            | Section::Conversations
            | Section::Appeals
            | Section::Complaints
            | Section::Customers
            | Section::Feedback
            | Section::Handover => true,
            Section::Mystery => true,
            Section::Review | Section::Agents | Section::Packs => role != Role::Agent,
            Section::Admin => role == Role::Admin,
        }
    }
}

/// A link of the navigation.
#[derive(Debug, Clone)]
pub(crate) struct NavItem {
    /// Label.
    pub label: String,
    /// Target.
    pub href: &'static str,
    /// Whether it is the current section.
    pub current: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_see_their_sections() {
        let agent: Vec<_> = Section::ALL
            .iter()
            .filter(|s| s.allowed(Role::Agent))
            .collect();
        assert_eq!(
            agent.len(),
            8,
            "overview, conversations, appeals, complaints, customers, feedback, handover, mystery"
        );
        assert!(Section::ALL.iter().all(|s| s.allowed(Role::Admin)));
        assert!(!Section::Admin.allowed(Role::Supervisor));
    }
}
