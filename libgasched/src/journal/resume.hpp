// Reading a journal back when a scheduler starts on it.
#pragma once

#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/error.hpp>

#include "core/journal.hpp"
#include "journal/journal_file.hpp"
#include "journal/sqlite_db.hpp"

namespace gasched::detail {

/// Reads the journal opened in `db` and resumes it, in one transaction: the
/// tasks that were running go back to the front of pending (in id order, as
/// after a node's death), and a journal that was used before starts a new
/// generation, made durable before this returns so that no lease of an
/// earlier run is issued again. Fills `meta`, `names`, `notes` and the
/// snapshot the core restores. On error the file is left unchanged.
caf::error resume_journal(sqlite_db& db, caf::actor_system& sys, bool fresh,
                          journal_meta& meta, journal_names& names, journal_notes& notes,
                          journal_snapshot& snapshot);

} // namespace gasched::detail
