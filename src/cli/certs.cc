// Certificate commands (docs/cli.md, "cert"): request one from a remote,
// list, show and revoke those this instance keeps.

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <iostream>
#include <set>

#include "auth/keyring.h"
#include "base/encoding.h"
#include "base/json.h"
#include "cli/cli.h"
#include "http/client.h"

namespace braid::cli {
namespace {

struct CertArgs {
  std::string remote, serial, user, password_file, subject, root;
  std::vector<std::string> read, write;
  int days = auth::kDefaultCertDays;
};

std::string Day(int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  return fmt::format("{:%Y-%m-%d}", fmt::gmtime(t));
}

// The admin's password: from --password-file, else a line of standard input
// (asked for without echo on a terminal).
Result<std::string> AdminPassword(const CertArgs& a) {
  if (!a.password_file.empty()) return ReadSecretFile(a.password_file, "password");
  const bool tty = ::isatty(STDIN_FILENO) != 0;
  termios old{};
  if (tty) {
    std::fprintf(stderr, "password of %s on remote %s: ", a.user.c_str(), a.remote.c_str());
    ::tcgetattr(STDIN_FILENO, &old);
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string password;
  std::getline(std::cin, password);
  if (tty) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::fprintf(stderr, "\n");
  }
  while (!password.empty() && (password.back() == '\r' || password.back() == '\n')) {
    password.pop_back();
  }
  if (password.empty()) {
    return Status::InvalidArgument("no password for " + a.user +
                                   "; give it on standard input or with --password-file");
  }
  return password;
}

Result<std::unique_ptr<auth::Keyring>> Keys(Instance& inst) {
  return auth::Keyring::Open(inst.store(), inst.dir() + "/keys");
}

// The error of a refused signing request, with what to do.
Status Refused(const std::string& remote, const http::ClientResponse& r) {
  std::string message = r.body.substr(0, 300);
  if (json::Validate(r.body, nullptr).ok()) {
    if (auto m = json::Value(r.body).Find("message")) message = m->AsString().value_or(message);
  }
  const std::string text = "remote \"" + remote + "\" refused the signing request (HTTP " +
                           std::to_string(r.status) + "): " + message;
  if (r.status == 401) return Status::Unauthorized(text + " (check --user and its password)");
  if (r.status == 403) return Status::Forbidden(text);
  if (r.status == 429) return Status::TooManyRequests(text);
  if (r.status == 404) {
    return Status::NotFound(text + " (is it a braid server that signs certificates?)");
  }
  return Status::InvalidArgument(text);
}

Status RunRequest(const Globals& g, const CertArgs& a) {
  if (a.read.empty() && a.write.empty()) {
    return Status::InvalidArgument(
        "say what the certificate covers: --read PREFIX and/or --write PREFIX (\"*\" for every "
        "partition)");
  }
  BRAID_ASSIGN_OR_RETURN(const auth::PartitionSet read, auth::PartitionSet::FromPrefixes(a.read));
  BRAID_ASSIGN_OR_RETURN(const auth::PartitionSet write, auth::PartitionSet::FromPrefixes(a.write));
  if (a.days < 1 || a.days > auth::kMaxCertDays) {
    return Status::InvalidArgument("--days must be from 1 to " +
                                   std::to_string(auth::kMaxCertDays));
  }
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  BRAID_ASSIGN_OR_RETURN(auto remote, inst->store().GetRemote(a.remote));
  if (!remote) {
    return Status::NotFound("no remote \"" + a.remote + "\"; add it first: braid remote add " +
                            a.remote + " URL [--ca-cert FILE]");
  }
  BRAID_ASSIGN_OR_RETURN(auto keys, Keys(*inst));
  BRAID_ASSIGN_OR_RETURN(const std::string password, AdminPassword(a));

  auth::SignRequest request;
  request.public_key = keys->key().public_key();
  request.subject = a.subject.empty() ? "instance " + inst->store().instance_id().Hex() : a.subject;
  request.read = read;
  request.write = write;
  request.days = a.days;
  request.root = a.root;
  const std::string body = auth::SignRequestJson(request);
  http::ClientOptions options;
  options.ca_cert = remote->ca_cert;
  BRAID_ASSIGN_OR_RETURN(auto client, http::Client::Create(options));
  BRAID_ASSIGN_OR_RETURN(
      const auto r,
      client->Send("POST", remote->url + "/api/v1/certs", body,
                   {{"Authorization", "Basic " + Base64Encode(a.user + ":" + password)},
                    {"Content-Type", "application/json"}}));
  if (r.status != 201) return Refused(a.remote, r);
  if (!json::Validate(r.body, nullptr).ok()) {
    return Status::InvalidArgument("remote \"" + a.remote + "\" answered with something not JSON");
  }
  auto chain_json = json::Value(r.body).Find("chain");
  if (!chain_json) return Status::InvalidArgument("remote \"" + a.remote + "\" sent no chain");
  BRAID_ASSIGN_OR_RETURN(const auth::Chain chain, auth::ParseChain(chain_json->raw()));
  BRAID_RETURN_IF_ERROR(keys->Adopt(chain).WithContext("remote \"" + a.remote + "\""));
  remote->cert = chain.front().serial;
  BRAID_ASSIGN_OR_RETURN(auto txn, inst->store().BeginWrite());
  BRAID_RETURN_IF_ERROR(txn->PutRemote(*remote));
  BRAID_RETURN_IF_ERROR(txn->Commit());
  const auth::Certificate& c = chain.front();
  if (g.json) {
    Print("{\"serial\":\"" + c.serial + "\",\"root\":\"" + chain.back().serial + "\",\"read\":" +
          auth::PartitionSetJson(c.read) + ",\"write\":" + auth::PartitionSetJson(c.write) +
          ",\"not_after\":" + std::to_string(c.not_after_ms) + "}");
  } else {
    Print("certificate " + c.serial + " from remote " + a.remote + ": read " + c.read.Describe() +
          ", write " + c.write.Describe() + ", until " + Day(c.not_after_ms) + "\nbraid sync " +
          a.remote + " now opens certificate sessions");
  }
  return Status::OK();
}

Status RunList(const Globals& g) {
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  BRAID_ASSIGN_OR_RETURN(auto keys, Keys(*inst));
  BRAID_ASSIGN_OR_RETURN(const auto rows, inst->store().ListCertificates());
  BRAID_ASSIGN_OR_RETURN(const auto revocations, inst->store().ListRevocations());
  std::set<std::string> revoked;
  for (const auto& r : revocations) revoked.insert(r.serial);
  std::string out;
  json::Writer w(&out);
  w.BeginArray();
  for (const auto& row : rows) {
    BRAID_ASSIGN_OR_RETURN(const auth::Certificate c, auth::ParseCertificate(row.text));
    const bool own = c.public_key == keys->key().public_key();
    const std::string role = c.IsRoot() ? (own ? "own root" : "root") : own ? "own" : "";
    if (g.json) {
      w.Raw(auth::CertificateSummaryJson(c, row, own, revoked.count(c.serial) != 0));
      continue;
    }
    std::string line = c.serial + "\t" + c.subject + "\tread " + c.read.Describe() + "\twrite " +
                       c.write.Describe() + "\tuntil " + Day(c.not_after_ms);
    if (!role.empty()) line += "\t" + role;
    if (!row.signed_for.empty()) line += "\tsigned for " + row.signed_for;
    if (revoked.count(c.serial) != 0) line += "\tREVOKED";
    Print(line);
  }
  w.EndArray();
  if (g.json) Print(out);
  return Status::OK();
}

Status RunShow(const Globals& g, const std::string& serial) {
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  BRAID_ASSIGN_OR_RETURN(auto keys, Keys(*inst));
  BRAID_ASSIGN_OR_RETURN(const auth::Chain chain, keys->ChainOf(serial));
  std::vector<std::string> serials;
  for (const auto& c : chain) serials.push_back(c.serial);
  BRAID_ASSIGN_OR_RETURN(const auto revoked, inst->store().RevokedAmong(serials));
  std::string out = "{\"chain\":" + auth::EncodeChain(chain) + ",\"revoked\":[";
  for (size_t i = 0; i < revoked.size(); ++i) out += (i ? ",\"" : "\"") + revoked[i] + "\"";
  out += "]}";
  Print(g.json ? out : json::Pretty(out));
  return Status::OK();
}

Status RunRevoke(const Globals& g, const std::string& serial) {
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  BRAID_ASSIGN_OR_RETURN(auto keys, Keys(*inst));
  BRAID_ASSIGN_OR_RETURN(const auth::Revocation r, keys->Revoke(serial));
  if (!g.json) {
    Print("revoked certificate " + serial + " (" + r.revoked.subject +
          "); every instance of the dataset learns it at its next sync with one that knows");
  } else {
    Print(auth::EncodeRevocation(r));
  }
  return Status::OK();
}

}  // namespace

void AddCertCommands(CLI::App& app, Globals& g, Action& action) {
  CLI::App* cert = app.add_subcommand(
      "cert",
      "Certificates: this instance's Ed25519 key signed with a read and write scope, for "
      "replication without tokens (docs/protocol.md, \"Certificates\")");
  cert->require_subcommand(1);
  auto args = std::make_shared<CertArgs>();

  CLI::App* request = cert->add_subcommand(
      "request",
      "Ask a remote to sign this instance's key (the private key stays here); needs an admin of "
      "the remote, and makes the remote's syncs use the certificate");
  request->add_option("remote", args->remote, "Remote name (braid remote add)")->required();
  request->add_option("--read", args->read,
                      "A partition prefix to read (repeatable; \"*\": every partition)");
  request->add_option("--write", args->write,
                      "A partition prefix to write (repeatable; \"*\": every partition)");
  request->add_option("--user", args->user, "An admin of the remote")->required();
  request->add_option("--password-file", args->password_file,
                      "File whose first line is that admin's password; without it, the password "
                      "is read from standard input");
  request->add_option("--days", args->days,
                      "Validity in days (default 365; the remote may cap it)");
  request->add_option("--root", args->root,
                      "The dataset to join, by its root's serial, when the remote belongs to "
                      "several (default: the remote's own)");
  request->add_option("--subject", args->subject,
                      "Who the certificate is for, as listings show it (default: this instance)");
  request->callback([&g, &action, args] { action = [&g, args] { return RunRequest(g, *args); }; });

  cert->add_subcommand("list", "List the certificates kept here: own, issuers', signed here")
      ->callback([&g, &action] { action = [&g] { return RunList(g); }; });

  CLI::App* show = cert->add_subcommand("show", "Print a certificate and its chain (JSON)");
  show->add_option("serial", args->serial, "Serial (32 hex digits)")->required();
  show->callback([&g, &action, args] { action = [&g, args] { return RunShow(g, args->serial); }; });

  CLI::App* revoke = cert->add_subcommand(
      "revoke",
      "Revoke a certificate this instance signed (and every one under it); peers learn it when "
      "they sync");
  revoke->add_option("serial", args->serial, "Serial (32 hex digits)")->required();
  revoke->callback(
      [&g, &action, args] { action = [&g, args] { return RunRevoke(g, args->serial); }; });
}

}  // namespace braid::cli
