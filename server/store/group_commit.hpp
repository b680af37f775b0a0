// Group commit, for both databases' writers (sqlite_worker, pg_worker): a batch of waiting
// jobs runs in one transaction, so many sessions share one commit; if one job fails, the
// batch runs again with each job under its own savepoint, so only that job's writes are
// undone and its neighbours still commit.
#pragma once

#include <exception>
#include <vector>

namespace missive {

namespace db {
class connection;
}
namespace pg {
class connection;
}

// Whether the database gave up the transaction by itself after an error (SQLite rolls back
// on SQLITE_FULL or an I/O error; a PostgreSQL connection can break): then every job of
// the batch fails, since the jobs before the failed one were undone too.
bool transaction_gone(const db::connection& db);
bool transaction_gone(const pg::connection& db);

// Runs `batch` (jobs with `work(connection&)`) in one transaction of type Transaction and
// fills `failures`, one per job; jobs almost never fail, so first without savepoints (none of
// their statements, nor SQLite's journal of every page each job changes), unless the caller
// already knows that one fails (`savepoints_at_once`). Returns whether the transaction
// committed (false when BEGIN or COMMIT failed or the database gave it up: the store did
// not take the writes; a batch of one whose job failed committed nothing either, but the
// database was not at fault).
template <typename Transaction, typename Connection, typename Batch>
bool commit_together(Connection& db, Batch& batch, std::vector<std::exception_ptr>& failures,
                     bool savepoints_at_once = false) {
  auto fail_all = [&failures](std::exception_ptr failure) {
    for (auto& slot : failures) slot = failure;
  };
  bool again_with_savepoints = savepoints_at_once && batch.size() > 1;
  if (!again_with_savepoints) {
    try {
      Transaction tx(db);
      for (std::size_t i = 0; i < batch.size() && !again_with_savepoints; ++i) {
        try {
          batch[i].work(db);
        } catch (...) {
          if (transaction_gone(db)) throw;
          if (batch.size() > 1) {
            again_with_savepoints = true;  // tx rolls back; nothing was committed
          } else {
            failures[i] = std::current_exception();  // a batch of one: its failure is the job's
            return true;
          }
        }
      }
      if (!again_with_savepoints) tx.commit();
    } catch (...) {
      // BEGIN or COMMIT failed, or the database gave up the transaction: nothing committed.
      fail_all(std::current_exception());
      return false;
    }
  }
  if (!again_with_savepoints) return true;
  try {
    Transaction tx(db);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      db.run("SAVEPOINT job");
      try {
        batch[i].work(db);
        db.run("RELEASE job");
      } catch (...) {
        if (transaction_gone(db)) throw;
        failures[i] = std::current_exception();
        db.run("ROLLBACK TO job");
        db.run("RELEASE job");
      }
    }
    tx.commit();
  } catch (...) {
    fail_all(std::current_exception());
    return false;
  }
  return true;
}

}  // namespace missive
