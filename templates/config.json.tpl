{
  "platforms": {
    "mattermost": {
      "url": "http://mattermost:8065",
      "bots": {
        "admin": { "token": "{{ <%botTokenItem%>/token }}", "admin": true }
      },
      "access": { "mode": "allowlist", "users": [<%#users%>"<%user%>"<%comma%><%/users%>] }
    }
  },
  "channels": [<%#channels%>
    { "id": "<%id%>", "platform": "mattermost", "bot": "admin", "name": "<%name%>", "workingDirectory": "/home/bridge/.copilot-bridge/workspaces/admin" }<%comma%><%/channels%>
  ],
  "defaults": { "model": "<%model%>", "triggerMode": "mention", "permissionMode": "ask" }
}
