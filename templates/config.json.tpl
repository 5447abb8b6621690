{
  "platforms": {
    "mattermost": {
      "url": "http://mattermost:8065",
      "bots": {
        "admin": { "token": "{{ op://${BRIDGE_OP_VAULT}/mattermost-admin-bot/token }}", "admin": true }
      },
      "access": { "mode": "allowlist", "users": ["{{ op://${BRIDGE_OP_VAULT}/mattermost-admin-bot/allowed-user }}"] }
    }
  },
  "channels": [
    {
      "id": "{{ op://${BRIDGE_OP_VAULT}/mattermost-admin-bot/channel-id }}",
      "platform": "mattermost",
      "bot": "admin",
      "name": "admin",
      "workingDirectory": "/home/bridge/.copilot-bridge/workspaces/admin"
    }
  ],
  "defaults": { "model": "gpt-5", "triggerMode": "mention", "permissionMode": "ask" }
}
