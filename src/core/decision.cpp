// decision.cpp: the identity rules (docs/identity-rules.md) as one pure
// function of the request and what its keys matched.
#include "core/decision.h"

#include <algorithm>
#include <stdexcept>

#include "core/identity_error.h"

namespace identity {
namespace {

int class_rank(KeyClass c) {
  switch (c) {
    case KeyClass::kExternalId: return 0;
    case KeyClass::kPermanent: return 1;
    case KeyClass::kChangeable: return 2;
  }
  return 3;
}

// "email "a@b.c"": how messages name one identifier.
std::string describe(const Key &key) {
  if (key.key_class == KeyClass::kExternalId) return "external ID " + quoted(key.value);
  return key.type + " " + quoted(key.value);
}

std::optional<std::string> request_external_id(const Request &request) {
  for (const Key &key : request.keys)
    if (key.key_class == KeyClass::kExternalId) return key.value;
  return std::nullopt;
}

// The values the request gives per permanent type.
std::map<std::string, std::set<std::string>> request_permanent(const Request &request) {
  std::map<std::string, std::set<std::string>> values;
  for (const Key &key : request.keys)
    if (key.key_class == KeyClass::kPermanent) values[key.type].insert(key.value);
  return values;
}

// Why `other` cannot be the same person as what `wanted` (the request, or
// the winner so far, named by `whose`) says, or "" when nothing contradicts:
// another external ID, or for some permanent type a value while `wanted`
// has other values of that type.
std::string contradiction(const ContactState &other, const std::optional<std::string> &wanted_external_id,
                          const std::map<std::string, std::set<std::string>> &wanted, const std::string &whose) {
  if (other.external_id && wanted_external_id && *other.external_id != *wanted_external_id)
    return "it has external ID " + quoted(*other.external_id) + " and " + whose + " has " +
           quoted(*wanted_external_id);
  for (const auto &[type, held] : other.permanent) {
    auto it = wanted.find(type);
    if (held.empty() || it == wanted.end() || it->second.empty()) continue;
    bool shared = std::any_of(held.begin(), held.end(),
                              [&](const std::string &v) { return it->second.count(v) > 0; });
    if (!shared)
      return "it holds " + type + " " + quoted(*held.begin()) + " and " + whose + " has " +
             quoted(*it->second.begin());
  }
  return {};
}

// The priority search shared by search() and decide(). With throw_on_conflict
// a permanent key held by a contact with another external ID is an error;
// without, it ends the search with no match.
SearchResult find_winner(const Request &request, const Matches &matches, bool throw_on_conflict) {
  const std::optional<std::string> ext = request_external_id(request);
  const auto wanted = request_permanent(request);
  for (size_t i = 0; i < request.keys.size(); i++) {
    const Key &key = request.keys[i];
    const std::optional<int64_t> &holder = matches.holder.at(i);
    if (!holder) continue;
    const ContactState &c = matches.contacts.at(*holder);
    switch (key.key_class) {
      case KeyClass::kExternalId:
        return {*holder, kExternalIdType};
      case KeyClass::kPermanent:
        if (ext && c.external_id && *c.external_id != *ext) {
          if (!throw_on_conflict) return {};
          throw IdentityError(
              sqlstate::kUniqueViolation,
              describe(key) + " belongs to a contact with another external ID",
              "Contact " + std::to_string(c.id) + " holds " + describe(key) + " and has external ID " +
                  quoted(*c.external_id) + "; the request has external ID " + quoted(*ext) + ".",
              "External IDs never change. Send the request with external ID " + quoted(*c.external_id) +
                  ", or without this " + key.type + ".");
        }
        return {*holder, key.type};
      case KeyClass::kChangeable:
        // A shared device: the token's holder is someone else when it holds
        // a permanent identifier the request contradicts.
        if (!contradiction(c, ext, wanted, "the request").empty()) continue;
        return {*holder, key.type};
    }
  }
  return {};
}

// The search of an import's dedupe_on: only those types, in that order. The
// first key with a holder decides; a holder with another external ID is an
// error whatever the key's class, since the key says who the row is.
SearchResult find_deduped(const Request &request, const Matches &matches, bool throw_on_conflict) {
  const std::optional<std::string> ext = request_external_id(request);
  bool has_key = false;
  for (const std::string &type : *request.dedupe_on) {
    for (size_t i = 0; i < request.keys.size(); i++) {
      const Key &key = request.keys[i];
      if (key.type != type) continue;
      has_key = true;
      const std::optional<int64_t> &holder = matches.holder.at(i);
      if (!holder) continue;
      const ContactState &c = matches.contacts.at(*holder);
      if (ext && c.external_id && *c.external_id != *ext) {
        if (!throw_on_conflict) return {};
        throw IdentityError(
            sqlstate::kUniqueViolation, describe(key) + " belongs to a contact with another external ID",
            "Contact " + std::to_string(c.id) + " holds " + describe(key) + " and has external ID " +
                quoted(*c.external_id) + "; the row has external ID " + quoted(*ext) + ".",
            "External IDs never change. Correct the row's external ID or its " + type + ".");
      }
      return {*holder, key.type};
    }
  }
  if (!has_key && !request.dedupe_on->empty()) {
    std::string names;
    for (const std::string &type : *request.dedupe_on) names += (names.empty() ? "" : " or ") + type;
    throw IdentityError(sqlstate::kInvalidParameterValue, "row has no " + names + " to deduplicate on",
                        "dedupe_on searches by " + names + " only.",
                        "Fill the " + names + " column, or import with another dedupe_on.");
  }
  return {};
}

// Adds what a merged contact holds to the winner's state, so that later
// candidates are checked against the merged whole.
void absorb(ContactState &winner, const ContactState &loser) {
  if (!winner.external_id && loser.external_id) winner.external_id = loser.external_id;
  for (const auto &[type, values] : loser.permanent)
    winner.permanent[type].insert(values.begin(), values.end());
}

}  // namespace

std::string Decision::action() const {
  if (skipped_deleted) return "skipped_deleted";
  if (!merged.empty()) return "merged";
  if (remember_only) return "remembered";
  if (create) return "created";
  if (restore) return "restored";
  return "updated";
}

bool reads_permanent(const Request &request, size_t contacts, bool deciding) {
  auto has = [&](KeyClass key_class) {
    return std::any_of(request.keys.begin(), request.keys.end(), [&](const Key &k) { return k.key_class == key_class; });
  };
  if (!deciding) return has(KeyClass::kPermanent) && has(KeyClass::kChangeable);
  return has(KeyClass::kPermanent) || !request.clear_types.empty() || contacts > 1;
}

void sort_keys(std::vector<Key> &keys) {
  std::stable_sort(keys.begin(), keys.end(), [](const Key &a, const Key &b) {
    if (class_rank(a.key_class) != class_rank(b.key_class))
      return class_rank(a.key_class) < class_rank(b.key_class);
    if (a.priority != b.priority) return a.priority < b.priority;
    return a.type < b.type;
  });
}

SearchResult search(const Request &request, const Matches &matches) {
  return request.dedupe_on ? find_deduped(request, matches, false) : find_winner(request, matches, false);
}

Decision decide(const Request &request, const Matches &matches) {
  if (matches.holder.size() != request.keys.size())
    throw std::logic_error("decide: one holder per key expected");
  Decision d;
  const std::optional<std::string> ext = request_external_id(request);
  const auto wanted = request_permanent(request);

  if (request.contact_id) {
    const ContactState &target = matches.contacts.at(*request.contact_id);
    for (size_t i = 0; i < request.keys.size(); i++) {
      const Key &key = request.keys[i];
      if (key.key_class != KeyClass::kExternalId) continue;
      const auto &holder = matches.holder[i];
      if (holder && *holder != target.id)
        throw IdentityError(sqlstate::kUniqueViolation, describe(key) + " belongs to another contact",
                            "Contact " + std::to_string(*holder) + " holds " + describe(key) + ".",
                            "Update contact " + std::to_string(*holder) +
                                " instead, or send another external ID.");
      if (target.external_id && *target.external_id != key.value)
        throw IdentityError(sqlstate::kObjectNotInPrerequisiteState,
                            contact_name(target.id) + " already has external ID " + quoted(*target.external_id),
                            "External IDs never change once set; the request sent " + quoted(key.value) + ".",
                            "Send external ID " + quoted(*target.external_id) + " or none.");
    }
    d.winner = target.id;
    d.matched_by = "contact_id";
  } else {
    SearchResult found =
        request.dedupe_on ? find_deduped(request, matches, true) : find_winner(request, matches, true);
    d.winner = found.contact;
    d.matched_by = found.matched_by;
  }
  if (d.winner && matches.contacts.at(*d.winner).deleted && !request.restore_deleted) {
    d.skipped_deleted = true;
    return d;
  }

  ContactState merged_state;  // the winner as it grows by merges
  if (d.winner) {
    merged_state = matches.contacts.at(*d.winner);
    d.restore = merged_state.deleted;
  }
  const ContactState original = merged_state;
  if (ext && !merged_state.external_id) {
    d.assign_external_id = ext;
    merged_state.external_id = ext;
  }

  // Every other contact a key matched: merged when nothing it holds
  // contradicts the request or the winner, otherwise its changeable keys
  // move and a permanent one is an error.
  std::map<int64_t, std::string> refused;  // contact -> why it is not merged
  for (size_t i = 0; i < request.keys.size(); i++) {
    const Key &key = request.keys[i];
    const auto &holder = matches.holder[i];
    if (!holder) {
      d.attached.push_back(i);
      continue;
    }
    if (d.winner && *holder == *d.winner) continue;
    if (std::find(d.merged.begin(), d.merged.end(), *holder) != d.merged.end()) continue;
    const ContactState &other = matches.contacts.at(*holder);
    auto known = refused.find(*holder);
    if (known == refused.end()) {
      std::string why = contradiction(other, ext, wanted, "the request");
      if (why.empty() && request.dedupe_on) why = "an import stores keys other than its dedupe_on, it never searches them";
      if (why.empty() && d.winner)
        why = contradiction(other, merged_state.external_id, merged_state.permanent, contact_name(*d.winner));
      if (why.empty() && d.winner) {
        d.merged.push_back(*holder);
        absorb(merged_state, other);
        if (other.external_id && !original.external_id && !ext) d.assign_external_id = other.external_id;
        continue;
      }
      known = refused.emplace(*holder, why.empty() ? "no contact matched the request" : why).first;
    }
    if (key.key_class == KeyClass::kChangeable) {
      d.moved.push_back(i);
      continue;
    }
    const std::string target = d.winner ? contact_name(*d.winner) : "a new contact";
    throw IdentityError(sqlstate::kUniqueViolation, describe(key) + " belongs to another contact",
                        "Contact " + std::to_string(*holder) + " holds " + describe(key) +
                            " and cannot be merged into " + target + ": " + known->second + ".",
                        "If both are one person, merge them; otherwise send the request without this " +
                            key.type + ".");
  }

  if (d.winner) {
    // A permanent value the request replaces or clears leaves the winner. A
    // value the winner already holds replaces nothing: after a merge the
    // winner holds several, and each of them finds it.
    for (const auto &[type, held] : original.permanent) {
      auto it = wanted.find(type);
      if (it == wanted.end() && !request.clear_types.count(type)) continue;
      // held is captured by an init-capture: C++17 cannot capture a structured binding.
      if (it != wanted.end() &&
          std::any_of(it->second.begin(), it->second.end(),
                      [&held = held](const std::string &v) { return held.count(v) > 0; }))
        continue;
      for (const std::string &old : held)
        if (it == wanted.end() || !it->second.count(old)) d.detached.emplace_back(type, old);
    }
  } else {
    bool creates = std::any_of(request.keys.begin(), request.keys.end(), [](const Key &k) {
      return k.key_class != KeyClass::kChangeable || k.creates_contact;
    });
    d.create = creates;
    d.remember_only = !creates;
  }
  return d;
}

}  // namespace identity
