// Older journal formats, brought up to the current one (journal_format) when
// a scheduler opens them, so that a scheduler of a newer gasched resumes the
// tasks and keeps the results of an older one.
#pragma once

#include <cstdint>

#include <caf/error.hpp>

#include "journal/sqlite_db.hpp"

namespace gasched::detail {

/// Upgrades the journal in `db`, of format `from` (1 up to journal_format),
/// to journal_format, within the caller's transaction: the file changes
/// only if that transaction commits. Nothing to do at journal_format.
caf::error upgrade_journal(sqlite_db& db, int64_t from);

} // namespace gasched::detail
