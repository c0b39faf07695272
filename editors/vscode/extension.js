// The kiln extension: starts `kiln lsp` and serves the embedded standard library as read-only
// `kiln-stdlib:` documents (where go to definition lands), fetched from the server.
'use strict';

const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

let client;

function start() {
  const config = vscode.workspace.getConfiguration('kiln');
  const serverOptions = { command: config.get('server.path', 'kiln'), args: ['lsp'] };
  const clientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'kiln' },
      { scheme: 'kiln-stdlib', language: 'kiln' },
    ],
    initializationOptions: { debounceMs: config.get('server.debounceMs', 20) },
  };
  client = new LanguageClient('kiln', 'kiln', serverOptions, clientOptions);
  return client.start();
}

function activate(context) {
  const stdlib = {
    async provideTextDocumentContent(uri) {
      const reply = await client.sendRequest('kiln/stdlibSource', { uri: uri.toString() });
      return reply && reply.text !== null ? reply.text : `# no stdlib module at ${uri.toString()}\n`;
    },
  };
  context.subscriptions.push(
    vscode.workspace.registerTextDocumentContentProvider('kiln-stdlib', stdlib),
    vscode.workspace.onDidOpenTextDocument((doc) => {
      if (doc.uri.scheme === 'kiln-stdlib' && doc.languageId !== 'kiln') {
        vscode.languages.setTextDocumentLanguage(doc, 'kiln');
      }
    }),
    vscode.commands.registerCommand('kiln.restartServer', async () => {
      if (client) await client.stop();
      await start();
    }),
  );
  return start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
