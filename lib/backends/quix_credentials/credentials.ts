/** Reading the quix password and CA files, and the HTTP client that trusts that CA. */

/** Where the credentials come from (the `[quix]` keys of the same names). */
export interface QuixCredentialSource {
  password: string;
  /** File holding the password (first line); wins over `password`. "" = none. */
  password_file: string;
  /** Extra CA certificate (PEM file) trusted for wss://. "" = none. */
  ca_file: string;
}

/** The credentials the link uses. */
export interface QuixCredentials {
  password: string;
  /** An HTTP client trusting `ca_file`, or null for the system's CAs; the caller closes it. */
  client: Deno.HttpClient | null;
}

/** Reads the password and the CA (errors name the file through the OS message). */
export async function readQuixCredentials(source: QuixCredentialSource): Promise<QuixCredentials> {
  const password = source.password_file
    ? (await Deno.readTextFile(source.password_file)).split("\n")[0]!.trim()
    : source.password;
  const client = source.ca_file
    ? Deno.createHttpClient({ caCerts: [await Deno.readTextFile(source.ca_file)] })
    : null;
  return { password, client };
}
