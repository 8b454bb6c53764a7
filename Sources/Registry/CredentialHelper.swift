import OCI
import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// A docker credential helper, `docker-credential-NAME`, as docker runs it: `get` with the
/// server address on stdin, and `{"ServerURL": ..., "Username": ..., "Secret": ...}` on stdout
/// (docker-credential-helpers' protocol). The keychain, pass, gcloud and ECR helpers all speak it.
struct CredentialHelper {
    let name: String
    /// Where the config named it (`credHelpers["HOST"]` or `credsStore` in PATH), for messages.
    let source: String

    var program: String { "docker-credential-" + name }

    /// What a helper prints, with a failing status, when it has nothing for the address
    /// (docker-credential-helpers' `ErrCredentialsNotFound`): not an error, just no credentials.
    static let notFoundMessage = "credentials not found in native keychain"

    /// The credentials for `serverAddress`, or nil when the helper has none.
    ///
    /// `searchPath` is PATH's form (directories separated by `:`), searched in order as docker's
    /// `exec.LookPath` does; system directories are not added, since a helper is a user's tool.
    func credentials(for serverAddress: String, searchPath: String, timeoutSeconds: Double) throws(RunxlError) -> RegistryCredentials? {
        guard !name.isEmpty, !name.contains("/") else {
            throw RunxlError(.credentialHelperFailed, "\(source): '\(name)' is not a credential helper name (docker-credential-NAME, NAME without '/')")
        }
        let directories = searchPath.split(separator: ":", omittingEmptySubsequences: true).map(String.init)
        guard let path = directories.lazy.map({ $0 + "/" + program }).first(where: { access($0, X_OK) == 0 }) else {
            throw RunxlError(.credentialHelperFailed, "credential helper \(program) (\(source)) is not on PATH: install it, or remove it from the Docker config")
        }
        var tool = ToolRun(path: path, arguments: ["get"], timeoutSeconds: timeoutSeconds)
        tool.separatesErrorOutput = true
        let outcome = try tool.run(input: Array((serverAddress + "\n").utf8))
        let said = Self.trimmed(outcome.output)
        if outcome.timedOut {
            throw RunxlError(.credentialHelperFailed, "credential helper \(program) (\(source)) did not answer within \(Int(timeoutSeconds)) s and was killed")
        }
        guard outcome.status == 0 else {
            if said == Self.notFoundMessage { return nil }
            let errors = outcome.errorOutput.split(separator: "\n").suffix(4).joined(separator: "; ")
            let quoted = [said, errors].filter { !$0.isEmpty }.joined(separator: "; ")
            throw RunxlError(
                .credentialHelperFailed,
                "credential helper \(program) (\(source)) failed with status \(outcome.status) for \(serverAddress)\(quoted.isEmpty ? "" : ": " + quoted)")
        }
        let answer: HelperAnswer
        do throws(RunxlError) {
            answer = try JSONDocument.decode(HelperAnswer.self, from: Array(said.utf8), documentName: "the answer of \(program)", code: .credentialHelperFailed)
        } catch {
            throw RunxlError(
                .credentialHelperFailed,
                "credential helper \(program) (\(source)) did not print {\"Username\", \"Secret\"} JSON for \(serverAddress): \(error.message)")
        }
        // docker stores an identity token (an OAuth2 refresh token) under this user name; runxl's
        // token flow sends basic credentials only, so say so instead of sending the token as a password.
        guard answer.username != "<token>" else {
            throw RunxlError(
                .credentialHelperFailed,
                "credential helper \(program) (\(source)) holds an identity token for \(serverAddress), which runxl cannot use: give --creds USER:PASSWORD")
        }
        return RegistryCredentials(username: answer.username, password: answer.secret)
    }
}

extension CredentialHelper {
    static func trimmed(_ text: String) -> String {
        String(text.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}

/// The helper's answer; `ServerURL` is not used (the address asked for is the one used).
private struct HelperAnswer: Decodable {
    var serverURL: String?
    var username: String
    var secret: String

    enum CodingKeys: String, CodingKey {
        case serverURL = "ServerURL"
        case username = "Username"
        case secret = "Secret"
    }
}
