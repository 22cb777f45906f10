//! Names, teams, roles and reasons the generated manifests are written with.

pub(super) const FIRST_NAMES: &[&str] = &[
    "Aisha", "Alice", "Amara", "Ana", "Ben", "Carlos", "Chen", "Chloe", "Daniel", "David", "Elena",
    "Emma", "Fatima", "Felix", "Grace", "Hannah", "Hiro", "Ines", "Ivan", "Jack", "Jana", "Jin",
    "Jonas", "Kofi", "Lara", "Leo", "Lina", "Lucas", "Maya", "Mei", "Mia", "Noah", "Nora", "Olga",
    "Omar", "Priya", "Rafael", "Ravi", "Sara", "Sofia", "Tariq", "Tom", "Yuki", "Zoe",
];

pub(super) const LAST_NAMES: &[&str] = &[
    "Adeyemi", "Bauer", "Becker", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad",
    "Hansen", "Ito", "Jansen", "Kim", "Kowalski", "Laurent", "Lee", "Lopez", "Moreau", "Muller",
    "Nakamura", "Novak", "Okafor", "Olsen", "Patel", "Petrov", "Rossi", "Schmidt", "Silva",
    "Singh", "Smith", "Tanaka", "Torres", "Wagner", "Wang", "Weber", "Williams", "Yilmaz", "Zhang",
];

pub(super) const TEAMS: &[&str] = &[
    "payments",
    "identity",
    "platform",
    "data",
    "security",
    "finance",
    "hr",
    "sales",
    "support",
    "mobile",
    "web",
    "infra",
    "network",
    "legal",
    "marketing",
    "research",
    "ops",
    "billing",
    "risk",
    "devtools",
];

pub(super) const GROUP_SUFFIXES: &[&str] = &[
    "Admins",
    "Operators",
    "Owners",
    "Oncall",
    "Auditors",
    "Breakglass",
    "Contractors",
];

pub(super) const ROLES: &[&str] = &[
    "Global Administrator",
    "Privileged Role Administrator",
    "Privileged Authentication Administrator",
    "Security Administrator",
    "Security Operator",
    "Security Reader",
    "User Administrator",
    "Groups Administrator",
    "Helpdesk Administrator",
    "Password Administrator",
    "Authentication Administrator",
    "Application Administrator",
    "Cloud Application Administrator",
    "Conditional Access Administrator",
    "Exchange Administrator",
    "SharePoint Administrator",
    "Teams Administrator",
    "Intune Administrator",
    "Billing Administrator",
    "Compliance Administrator",
    "Compliance Data Administrator",
    "Global Reader",
    "Reports Reader",
    "License Administrator",
    "Directory Writers",
    "Directory Readers",
    "Hybrid Identity Administrator",
    "Identity Governance Administrator",
    "Azure DevOps Administrator",
    "Power Platform Administrator",
    "Dynamics 365 Administrator",
    "Fabric Administrator",
    "Knowledge Administrator",
    "Attack Simulation Administrator",
    "Cloud Device Administrator",
    "Windows 365 Administrator",
    "Search Administrator",
    "Message Center Reader",
    "Service Support Administrator",
    "External Identity Provider Administrator",
];

pub(super) const DESCRIPTIONS: &[&str] = &[
    "Holders of this role can change tenant-wide settings; keep only people who need it today.",
    "Deny anyone who has moved team or has not used the access in the last quarter.",
    "Eligible assignments are activated through PIM; approve them only for the on-call rota.",
    "Required by the SOX control AC-7 and reviewed by internal audit every year.",
    "Service accounts are out of scope and listed as protected principals below.",
    "When in doubt, choose dontKnow and explain why in the reason so the owner can follow up.",
    "Contractors must have an end date recorded in the HR system to be approved.",
    "The results are applied by the identity team after the review closes.",
];

pub(super) const NOTICES: &[&str] = &[
    "Questions about this review go to the #iam-help channel.",
    "The identity team owns this review; reply to this e-mail to reach them.",
    "Please finish your decisions before the review closes; undecided items are escalated.",
    "See the access review runbook in the security wiki for what to look for.",
];

pub(super) const APPROVE_REASONS: &[&str] = &[
    "Still on the on-call rota for this service.",
    "Needs the role for the quarterly close.",
    "Owns the tenant configuration for the team.",
    "Used the access last week for an incident.",
    "Approved by the service owner in the team sync.",
    "Break-fix duty until the end of the quarter.",
    "Current member of the platform operations team.",
    "Required for the ongoing migration project.",
];

pub(super) const DENY_REASONS: &[&str] = &[
    "Moved to another team; access no longer needed.",
    "No sign-in for more than ninety days.",
    "Contract ended last month.",
    "Duplicate of an eligible assignment that is enough.",
    "Project finished; the role was temporary.",
    "Left the company, offboarding ticket still open.",
];

pub(super) const DONT_KNOW_REASONS: &[&str] = &[
    "Not in my reporting line, asked the owner to confirm.",
    "Could not reach them this week, will follow up.",
    "Unsure whether the automation still relies on this.",
];

pub(super) const EVENTS: &[&str] = &["instanceStarted", "reminder", "instanceEnded", "applied"];
