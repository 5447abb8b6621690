{
  "platforms": {
    "mattermost": {
      "url": "http://mattermost:8065",
      "bots": {
        "<%agentName%>": { "token": "{{ <%botTokenItem%>/token }}", "agent": "<%persona%>" }
      },
      "access": { "mode": "allowlist", "users": [<%#users%>"<%user%>"<%comma%><%/users%>] }
    }
  },
  "channels": [<%#channels%>
    { "id": "<%id%>", "platform": "mattermost", "bot": "<%agentName%>", "name": "<%name%>", "workingDirectory": "/home/bridge/.copilot-bridge/workspaces/<%agentName%>" }<%comma%><%/channels%>
  ],
  "defaults": { "model": "<%model%>", "triggerMode": "mention", "permissionMode": "ask" }
}
