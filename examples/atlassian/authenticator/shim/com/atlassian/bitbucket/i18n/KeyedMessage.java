// API SHIM, compiled only to build and test the examples; never shipped.
// Source: Bitbucket Data Center API, com.atlassian.bitbucket.i18n.KeyedMessage,
// https://docs.atlassian.com/bitbucket-server/javadoc/9.6.0/api/com/atlassian/bitbucket/i18n/KeyedMessage.html
//   public KeyedMessage(String key, String localisedMessage, String rootMessage)
//   getKey(), getLocalisedMessage(), getRootMessage()
package com.atlassian.bitbucket.i18n;

public class KeyedMessage {
    private final String key;
    private final String localisedMessage;
    private final String rootMessage;

    public KeyedMessage(String key, String localisedMessage, String rootMessage) {
        this.key = key;
        this.localisedMessage = localisedMessage;
        this.rootMessage = rootMessage;
    }

    public String getKey() {
        return key;
    }

    public String getLocalisedMessage() {
        return localisedMessage;
    }

    public String getRootMessage() {
        return rootMessage;
    }
}
