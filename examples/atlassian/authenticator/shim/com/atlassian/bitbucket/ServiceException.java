// API SHIM, compiled only to build and test the examples; never shipped.
// Source: Bitbucket Data Center API, com.atlassian.bitbucket.ServiceException
// (extends RuntimeException; constructors ServiceException(KeyedMessage) and
// ServiceException(KeyedMessage, Throwable); getKeyedMessage()),
// https://docs.atlassian.com/bitbucket-server/javadoc/10.1.2/api/com/atlassian/bitbucket/ServiceException.html
package com.atlassian.bitbucket;

import com.atlassian.bitbucket.i18n.KeyedMessage;

public class ServiceException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final transient KeyedMessage keyedMessage;

    public ServiceException(KeyedMessage message) {
        super(message.getRootMessage());
        this.keyedMessage = message;
    }

    public KeyedMessage getKeyedMessage() {
        return keyedMessage;
    }
}
