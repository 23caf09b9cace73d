/*eslint-disable block-scoped-var, id-length, no-control-regex, no-magic-numbers, no-mixed-operators, no-prototype-builtins, no-redeclare, no-shadow, no-var, sort-vars, default-case, jsdoc/require-param*/
import $protobuf from "protobufjs/minimal.js";

// Common aliases
const $Reader = $protobuf.Reader, $Writer = $protobuf.Writer, $util = $protobuf.util;
const $Object = $util.global.Object, $undefined = $util.global.undefined, $Error = $util.global.Error, $RangeError = $util.global.RangeError;

// Exported root namespace
const $root = $protobuf.roots["default"] || ($protobuf.roots["default"] = {});

export const ambient = $root.ambient = (() => {

    /**
     * Namespace ambient.
     * @exports ambient
     * @namespace
     */
    const ambient = {};

    ambient.waypoint = (function() {

        /**
         * Namespace waypoint.
         * @memberof ambient
         * @namespace
         */
        const waypoint = {};

        waypoint.v1 = (function() {

            /**
             * Namespace v1.
             * @memberof ambient.waypoint
             * @namespace
             */
            const v1 = {};

            v1.WaypointConfig = (function() {

                /**
                 * Properties of a WaypointConfig.
                 * @typedef {Object} ambient.waypoint.v1.WaypointConfig.$Properties
                 * @property {string|null} [name] WaypointConfig name
                 * @property {string|null} [namespace] WaypointConfig namespace
                 * @property {string|null} [json] WaypointConfig json
                 * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
                 */

                /**
                 * Properties of a WaypointConfig.
                 * @memberof ambient.waypoint.v1
                 * @interface IWaypointConfig
                 * @augments ambient.waypoint.v1.WaypointConfig.$Properties
                 * @deprecated Use ambient.waypoint.v1.WaypointConfig.$Properties instead.
                 */

                /**
                 * Shape of a WaypointConfig.
                 * @typedef {ambient.waypoint.v1.WaypointConfig.$Properties} ambient.waypoint.v1.WaypointConfig.$Shape
                 */

                /**
                 * Constructs a new WaypointConfig.
                 * @memberof ambient.waypoint.v1
                 * @classdesc Represents a WaypointConfig.
                 * @constructor
                 * @param {ambient.waypoint.v1.WaypointConfig.$Properties=} [properties] Properties to set
                 * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
                 */
                const WaypointConfig = function (properties) {
                    if (properties)
                        for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                            if (properties[keys[i]] != null && keys[i] !== "__proto__")
                                this[keys[i]] = properties[keys[i]];
                };

                /**
                 * WaypointConfig name.
                 * @member {string} name
                 * @memberof ambient.waypoint.v1.WaypointConfig
                 * @instance
                 */
                WaypointConfig.prototype.name = "";

                /**
                 * WaypointConfig namespace.
                 * @member {string} namespace
                 * @memberof ambient.waypoint.v1.WaypointConfig
                 * @instance
                 */
                WaypointConfig.prototype.namespace = "";

                /**
                 * WaypointConfig json.
                 * @member {string} json
                 * @memberof ambient.waypoint.v1.WaypointConfig
                 * @instance
                 */
                WaypointConfig.prototype.json = "";

                /**
                 * Creates a new WaypointConfig instance using the specified properties.
                 * @function create
                 * @memberof ambient.waypoint.v1.WaypointConfig
                 * @static
                 * @param {ambient.waypoint.v1.WaypointConfig.$Properties=} [properties] Properties to set
                 * @returns {ambient.waypoint.v1.WaypointConfig} WaypointConfig instance
                 * @type {{
                 *   (properties: ambient.waypoint.v1.WaypointConfig.$Shape): ambient.waypoint.v1.WaypointConfig & ambient.waypoint.v1.WaypointConfig.$Shape;
                 *   (properties?: ambient.waypoint.v1.WaypointConfig.$Properties): ambient.waypoint.v1.WaypointConfig;
                 * }}
                 */
                WaypointConfig.create = function(properties) {
                    return new WaypointConfig(properties);
                };

                /**
                 * Encodes the specified WaypointConfig message. Does not implicitly {@link ambient.waypoint.v1.WaypointConfig.verify|verify} messages.
                 * @function encode
                 * @memberof ambient.waypoint.v1.WaypointConfig
                 * @static
                 * @param {ambient.waypoint.v1.WaypointConfig.$Properties} message WaypointConfig message or plain object to encode
                 * @param {$protobuf.Writer} [writer] Writer to encode to
                 * @returns {$protobuf.Writer} Writer
                 */
                WaypointConfig.encode = function (message, writer, _depth) {
                    if (!writer)
                        writer = $Writer.create();
                    if (_depth === $undefined)
                        _depth = 0;
                    if (_depth > $util.recursionLimit)
                        throw $Error("max depth exceeded");
                    if (message.name != null && $Object.hasOwnProperty.call(message, "name") && message.name !== "")
                        writer.uint32(/* id 1, wireType 2 =*/10).string(message.name);
                    if (message.namespace != null && $Object.hasOwnProperty.call(message, "namespace") && message.namespace !== "")
                        writer.uint32(/* id 2, wireType 2 =*/18).string(message.namespace);
                    if (message.json != null && $Object.hasOwnProperty.call(message, "json") && message.json !== "")
                        writer.uint32(/* id 3, wireType 2 =*/26).string(message.json);
                    if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                        for (let i = 0; i < message.$unknowns.length; ++i)
                            writer.raw(message.$unknowns[i]);
                    return writer;
                };

                /**
                 * Decodes a WaypointConfig message from the specified reader or buffer.
                 * @function decode
                 * @memberof ambient.waypoint.v1.WaypointConfig
                 * @static
                 * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
                 * @param {number} [length] Message length if known beforehand
                 * @returns {ambient.waypoint.v1.WaypointConfig & ambient.waypoint.v1.WaypointConfig.$Shape} WaypointConfig
                 * @throws {Error} If the payload is not a reader or valid buffer
                 * @throws {$protobuf.util.ProtocolError} If required fields are missing
                 */
                WaypointConfig.decode = function (reader, length, _end, _depth, _target) {
                    if (!(reader instanceof $Reader))
                        reader = $Reader.create(reader);
                    if (_depth === $undefined)
                        _depth = 0;
                    if (_depth > $Reader.recursionLimit)
                        throw $Error("max depth exceeded");
                    let end, message, value;
                    if (length === $undefined)
                        end = reader.len;
                    else {
                        end = reader.pos + length;
                        if (end > reader.len)
                            throw $RangeError("index out of range");
                        length = reader.len;
                        reader.len = end;
                    }
                    message = _target || new $root.ambient.waypoint.v1.WaypointConfig();
                    while (reader.pos < end) {
                        let start = reader.pos;
                        let tag = reader.tag();
                        if (tag === _end) {
                            _end = $undefined;
                            break;
                        }
                        let wireType = tag & 7;
                        switch (tag >>>= 3) {
                        case 1: {
                                if (wireType !== 2)
                                    break;
                                if ((value = reader.stringVerify()).length)
                                    message.name = value;
                                else
                                    delete message.name;
                                continue;
                            }
                        case 2: {
                                if (wireType !== 2)
                                    break;
                                if ((value = reader.stringVerify()).length)
                                    message.namespace = value;
                                else
                                    delete message.namespace;
                                continue;
                            }
                        case 3: {
                                if (wireType !== 2)
                                    break;
                                if ((value = reader.stringVerify()).length)
                                    message.json = value;
                                else
                                    delete message.json;
                                continue;
                            }
                        }
                        reader.skipType(wireType, _depth, tag);
                        if (!reader.discardUnknown) {
                            $util.makeProp(message, "$unknowns", false);
                            (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                        }
                    }
                    if (length !== $undefined) {
                        if (reader.pos !== end)
                            throw $RangeError("index out of range");
                        reader.len = length;
                    }
                    if (_end !== $undefined)
                        throw $Error("missing end group");
                    return message;
                };

                /**
                 * Gets the type url for WaypointConfig
                 * @function getTypeUrl
                 * @memberof ambient.waypoint.v1.WaypointConfig
                 * @static
                 * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
                 * @returns {string} The type url
                 */
                WaypointConfig.getTypeUrl = function(prefix) {
                    if (prefix === $undefined)
                        prefix = "type.googleapis.com";
                    return prefix + "/ambient.waypoint.v1.WaypointConfig";
                };

                return WaypointConfig;
            })();

            return v1;
        })();

        return waypoint;
    })();

    return ambient;
})();

export const envoy = $root.envoy = (() => {

    /**
     * Namespace envoy.
     * @exports envoy
     * @namespace
     */
    const envoy = {};

    envoy.config = (function() {

        /**
         * Namespace config.
         * @memberof envoy
         * @namespace
         */
        const config = {};

        config.core = (function() {

            /**
             * Namespace core.
             * @memberof envoy.config
             * @namespace
             */
            const core = {};

            core.v3 = (function() {

                /**
                 * Namespace v3.
                 * @memberof envoy.config.core
                 * @namespace
                 */
                const v3 = {};

                v3.Node = (function() {

                    /**
                     * Properties of a Node.
                     * @typedef {Object} envoy.config.core.v3.Node.$Properties
                     * @property {string|null} [id] Node id
                     * @property {string|null} [cluster] Node cluster
                     * @property {google.protobuf.Struct.$Properties|null} [metadata] Node metadata
                     * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
                     */

                    /**
                     * Properties of a Node.
                     * @memberof envoy.config.core.v3
                     * @interface INode
                     * @augments envoy.config.core.v3.Node.$Properties
                     * @deprecated Use envoy.config.core.v3.Node.$Properties instead.
                     */

                    /**
                     * Shape of a Node.
                     * @typedef {{
                     *   id?: string|null;
                     *   cluster?: string|null;
                     *   metadata?: google.protobuf.Struct.$Shape|null;
                     *   $unknowns?: Array.<Uint8Array>;
                     * }} envoy.config.core.v3.Node.$Shape
                     */

                    /**
                     * Constructs a new Node.
                     * @memberof envoy.config.core.v3
                     * @classdesc Represents a Node.
                     * @constructor
                     * @param {envoy.config.core.v3.Node.$Properties=} [properties] Properties to set
                     * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
                     */
                    const Node = function (properties) {
                        if (properties)
                            for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                                if (properties[keys[i]] != null && keys[i] !== "__proto__")
                                    this[keys[i]] = properties[keys[i]];
                    };

                    /**
                     * Node id.
                     * @member {string} id
                     * @memberof envoy.config.core.v3.Node
                     * @instance
                     */
                    Node.prototype.id = "";

                    /**
                     * Node cluster.
                     * @member {string} cluster
                     * @memberof envoy.config.core.v3.Node
                     * @instance
                     */
                    Node.prototype.cluster = "";

                    /**
                     * Node metadata.
                     * @member {google.protobuf.Struct.$Properties|null|undefined} metadata
                     * @memberof envoy.config.core.v3.Node
                     * @instance
                     */
                    Node.prototype.metadata = null;

                    /**
                     * Creates a new Node instance using the specified properties.
                     * @function create
                     * @memberof envoy.config.core.v3.Node
                     * @static
                     * @param {envoy.config.core.v3.Node.$Properties=} [properties] Properties to set
                     * @returns {envoy.config.core.v3.Node} Node instance
                     * @type {{
                     *   (properties: envoy.config.core.v3.Node.$Shape): envoy.config.core.v3.Node & envoy.config.core.v3.Node.$Shape;
                     *   (properties?: envoy.config.core.v3.Node.$Properties): envoy.config.core.v3.Node;
                     * }}
                     */
                    Node.create = function(properties) {
                        return new Node(properties);
                    };

                    /**
                     * Encodes the specified Node message. Does not implicitly {@link envoy.config.core.v3.Node.verify|verify} messages.
                     * @function encode
                     * @memberof envoy.config.core.v3.Node
                     * @static
                     * @param {envoy.config.core.v3.Node.$Properties} message Node message or plain object to encode
                     * @param {$protobuf.Writer} [writer] Writer to encode to
                     * @returns {$protobuf.Writer} Writer
                     */
                    Node.encode = function (message, writer, _depth) {
                        if (!writer)
                            writer = $Writer.create();
                        if (_depth === $undefined)
                            _depth = 0;
                        if (_depth > $util.recursionLimit)
                            throw $Error("max depth exceeded");
                        if (message.id != null && $Object.hasOwnProperty.call(message, "id") && message.id !== "")
                            writer.uint32(/* id 1, wireType 2 =*/10).string(message.id);
                        if (message.cluster != null && $Object.hasOwnProperty.call(message, "cluster") && message.cluster !== "")
                            writer.uint32(/* id 2, wireType 2 =*/18).string(message.cluster);
                        if (message.metadata != null && $Object.hasOwnProperty.call(message, "metadata"))
                            $root.google.protobuf.Struct.encode(message.metadata, writer.uint32(/* id 3, wireType 2 =*/26).fork(), _depth + 1).ldelim();
                        if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                            for (let i = 0; i < message.$unknowns.length; ++i)
                                writer.raw(message.$unknowns[i]);
                        return writer;
                    };

                    /**
                     * Decodes a Node message from the specified reader or buffer.
                     * @function decode
                     * @memberof envoy.config.core.v3.Node
                     * @static
                     * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
                     * @param {number} [length] Message length if known beforehand
                     * @returns {envoy.config.core.v3.Node & envoy.config.core.v3.Node.$Shape} Node
                     * @throws {Error} If the payload is not a reader or valid buffer
                     * @throws {$protobuf.util.ProtocolError} If required fields are missing
                     */
                    Node.decode = function (reader, length, _end, _depth, _target) {
                        if (!(reader instanceof $Reader))
                            reader = $Reader.create(reader);
                        if (_depth === $undefined)
                            _depth = 0;
                        if (_depth > $Reader.recursionLimit)
                            throw $Error("max depth exceeded");
                        let end, message, value;
                        if (length === $undefined)
                            end = reader.len;
                        else {
                            end = reader.pos + length;
                            if (end > reader.len)
                                throw $RangeError("index out of range");
                            length = reader.len;
                            reader.len = end;
                        }
                        message = _target || new $root.envoy.config.core.v3.Node();
                        while (reader.pos < end) {
                            let start = reader.pos;
                            let tag = reader.tag();
                            if (tag === _end) {
                                _end = $undefined;
                                break;
                            }
                            let wireType = tag & 7;
                            switch (tag >>>= 3) {
                            case 1: {
                                    if (wireType !== 2)
                                        break;
                                    if ((value = reader.stringVerify()).length)
                                        message.id = value;
                                    else
                                        delete message.id;
                                    continue;
                                }
                            case 2: {
                                    if (wireType !== 2)
                                        break;
                                    if ((value = reader.stringVerify()).length)
                                        message.cluster = value;
                                    else
                                        delete message.cluster;
                                    continue;
                                }
                            case 3: {
                                    if (wireType !== 2)
                                        break;
                                    message.metadata = $root.google.protobuf.Struct.decode(reader, reader.size(), $undefined, _depth + 1, message.metadata);
                                    continue;
                                }
                            }
                            reader.skipType(wireType, _depth, tag);
                            if (!reader.discardUnknown) {
                                $util.makeProp(message, "$unknowns", false);
                                (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                            }
                        }
                        if (length !== $undefined) {
                            if (reader.pos !== end)
                                throw $RangeError("index out of range");
                            reader.len = length;
                        }
                        if (_end !== $undefined)
                            throw $Error("missing end group");
                        return message;
                    };

                    /**
                     * Gets the type url for Node
                     * @function getTypeUrl
                     * @memberof envoy.config.core.v3.Node
                     * @static
                     * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
                     * @returns {string} The type url
                     */
                    Node.getTypeUrl = function(prefix) {
                        if (prefix === $undefined)
                            prefix = "type.googleapis.com";
                        return prefix + "/envoy.config.core.v3.Node";
                    };

                    return Node;
                })();

                return v3;
            })();

            return core;
        })();

        return config;
    })();

    envoy.service = (function() {

        /**
         * Namespace service.
         * @memberof envoy
         * @namespace
         */
        const service = {};

        service.discovery = (function() {

            /**
             * Namespace discovery.
             * @memberof envoy.service
             * @namespace
             */
            const discovery = {};

            discovery.v3 = (function() {

                /**
                 * Namespace v3.
                 * @memberof envoy.service.discovery
                 * @namespace
                 */
                const v3 = {};

                v3.DeltaDiscoveryRequest = (function() {

                    /**
                     * Properties of a DeltaDiscoveryRequest.
                     * @typedef {Object} envoy.service.discovery.v3.DeltaDiscoveryRequest.$Properties
                     * @property {envoy.config.core.v3.Node.$Properties|null} [node] DeltaDiscoveryRequest node
                     * @property {string|null} [typeUrl] DeltaDiscoveryRequest typeUrl
                     * @property {Array.<string>|null} [resourceNamesSubscribe] DeltaDiscoveryRequest resourceNamesSubscribe
                     * @property {Array.<string>|null} [resourceNamesUnsubscribe] DeltaDiscoveryRequest resourceNamesUnsubscribe
                     * @property {Object.<string,string>|null} [initialResourceVersions] DeltaDiscoveryRequest initialResourceVersions
                     * @property {string|null} [responseNonce] DeltaDiscoveryRequest responseNonce
                     * @property {google.rpc.Status.$Properties|null} [errorDetail] DeltaDiscoveryRequest errorDetail
                     * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
                     */

                    /**
                     * Properties of a DeltaDiscoveryRequest.
                     * @memberof envoy.service.discovery.v3
                     * @interface IDeltaDiscoveryRequest
                     * @augments envoy.service.discovery.v3.DeltaDiscoveryRequest.$Properties
                     * @deprecated Use envoy.service.discovery.v3.DeltaDiscoveryRequest.$Properties instead.
                     */

                    /**
                     * Shape of a DeltaDiscoveryRequest.
                     * @typedef {{
                     *   node?: envoy.config.core.v3.Node.$Shape|null;
                     *   typeUrl?: string|null;
                     *   resourceNamesSubscribe?: Array.<string>|null;
                     *   resourceNamesUnsubscribe?: Array.<string>|null;
                     *   initialResourceVersions?: Object.<string,string>|null;
                     *   responseNonce?: string|null;
                     *   errorDetail?: google.rpc.Status.$Shape|null;
                     *   $unknowns?: Array.<Uint8Array>;
                     * }} envoy.service.discovery.v3.DeltaDiscoveryRequest.$Shape
                     */

                    /**
                     * Constructs a new DeltaDiscoveryRequest.
                     * @memberof envoy.service.discovery.v3
                     * @classdesc Represents a DeltaDiscoveryRequest.
                     * @constructor
                     * @param {envoy.service.discovery.v3.DeltaDiscoveryRequest.$Properties=} [properties] Properties to set
                     * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
                     */
                    const DeltaDiscoveryRequest = function (properties) {
                        this.resourceNamesSubscribe = [];
                        this.resourceNamesUnsubscribe = [];
                        this.initialResourceVersions = {};
                        if (properties)
                            for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                                if (properties[keys[i]] != null && keys[i] !== "__proto__")
                                    this[keys[i]] = properties[keys[i]];
                    };

                    /**
                     * DeltaDiscoveryRequest node.
                     * @member {envoy.config.core.v3.Node.$Properties|null|undefined} node
                     * @memberof envoy.service.discovery.v3.DeltaDiscoveryRequest
                     * @instance
                     */
                    DeltaDiscoveryRequest.prototype.node = null;

                    /**
                     * DeltaDiscoveryRequest typeUrl.
                     * @member {string} typeUrl
                     * @memberof envoy.service.discovery.v3.DeltaDiscoveryRequest
                     * @instance
                     */
                    DeltaDiscoveryRequest.prototype.typeUrl = "";

                    /**
                     * DeltaDiscoveryRequest resourceNamesSubscribe.
                     * @member {Array.<string>} resourceNamesSubscribe
                     * @memberof envoy.service.discovery.v3.DeltaDiscoveryRequest
                     * @instance
                     */
                    DeltaDiscoveryRequest.prototype.resourceNamesSubscribe = $util.emptyArray;

                    /**
                     * DeltaDiscoveryRequest resourceNamesUnsubscribe.
                     * @member {Array.<string>} resourceNamesUnsubscribe
                     * @memberof envoy.service.discovery.v3.DeltaDiscoveryRequest
                     * @instance
                     */
                    DeltaDiscoveryRequest.prototype.resourceNamesUnsubscribe = $util.emptyArray;

                    /**
                     * DeltaDiscoveryRequest initialResourceVersions.
                     * @member {Object.<string,string>} initialResourceVersions
                     * @memberof envoy.service.discovery.v3.DeltaDiscoveryRequest
                     * @instance
                     */
                    DeltaDiscoveryRequest.prototype.initialResourceVersions = $util.emptyObject;

                    /**
                     * DeltaDiscoveryRequest responseNonce.
                     * @member {string} responseNonce
                     * @memberof envoy.service.discovery.v3.DeltaDiscoveryRequest
                     * @instance
                     */
                    DeltaDiscoveryRequest.prototype.responseNonce = "";

                    /**
                     * DeltaDiscoveryRequest errorDetail.
                     * @member {google.rpc.Status.$Properties|null|undefined} errorDetail
                     * @memberof envoy.service.discovery.v3.DeltaDiscoveryRequest
                     * @instance
                     */
                    DeltaDiscoveryRequest.prototype.errorDetail = null;

                    /**
                     * Creates a new DeltaDiscoveryRequest instance using the specified properties.
                     * @function create
                     * @memberof envoy.service.discovery.v3.DeltaDiscoveryRequest
                     * @static
                     * @param {envoy.service.discovery.v3.DeltaDiscoveryRequest.$Properties=} [properties] Properties to set
                     * @returns {envoy.service.discovery.v3.DeltaDiscoveryRequest} DeltaDiscoveryRequest instance
                     * @type {{
                     *   (properties: envoy.service.discovery.v3.DeltaDiscoveryRequest.$Shape): envoy.service.discovery.v3.DeltaDiscoveryRequest & envoy.service.discovery.v3.DeltaDiscoveryRequest.$Shape;
                     *   (properties?: envoy.service.discovery.v3.DeltaDiscoveryRequest.$Properties): envoy.service.discovery.v3.DeltaDiscoveryRequest;
                     * }}
                     */
                    DeltaDiscoveryRequest.create = function(properties) {
                        return new DeltaDiscoveryRequest(properties);
                    };

                    /**
                     * Encodes the specified DeltaDiscoveryRequest message. Does not implicitly {@link envoy.service.discovery.v3.DeltaDiscoveryRequest.verify|verify} messages.
                     * @function encode
                     * @memberof envoy.service.discovery.v3.DeltaDiscoveryRequest
                     * @static
                     * @param {envoy.service.discovery.v3.DeltaDiscoveryRequest.$Properties} message DeltaDiscoveryRequest message or plain object to encode
                     * @param {$protobuf.Writer} [writer] Writer to encode to
                     * @returns {$protobuf.Writer} Writer
                     */
                    DeltaDiscoveryRequest.encode = function (message, writer, _depth) {
                        if (!writer)
                            writer = $Writer.create();
                        if (_depth === $undefined)
                            _depth = 0;
                        if (_depth > $util.recursionLimit)
                            throw $Error("max depth exceeded");
                        if (message.node != null && $Object.hasOwnProperty.call(message, "node"))
                            $root.envoy.config.core.v3.Node.encode(message.node, writer.uint32(/* id 1, wireType 2 =*/10).fork(), _depth + 1).ldelim();
                        if (message.typeUrl != null && $Object.hasOwnProperty.call(message, "typeUrl") && message.typeUrl !== "")
                            writer.uint32(/* id 2, wireType 2 =*/18).string(message.typeUrl);
                        if (message.resourceNamesSubscribe != null && message.resourceNamesSubscribe.length)
                            for (let i = 0; i < message.resourceNamesSubscribe.length; ++i)
                                writer.uint32(/* id 3, wireType 2 =*/26).string(message.resourceNamesSubscribe[i]);
                        if (message.resourceNamesUnsubscribe != null && message.resourceNamesUnsubscribe.length)
                            for (let i = 0; i < message.resourceNamesUnsubscribe.length; ++i)
                                writer.uint32(/* id 4, wireType 2 =*/34).string(message.resourceNamesUnsubscribe[i]);
                        if (message.initialResourceVersions != null && $Object.hasOwnProperty.call(message, "initialResourceVersions"))
                            for (let keys = $Object.keys(message.initialResourceVersions), i = 0; i < keys.length; ++i)
                                writer.uint32(/* id 5, wireType 2 =*/42).fork().uint32(/* id 1, wireType 2 =*/10).string(keys[i]).uint32(/* id 2, wireType 2 =*/18).string(message.initialResourceVersions[keys[i]]).ldelim();
                        if (message.responseNonce != null && $Object.hasOwnProperty.call(message, "responseNonce") && message.responseNonce !== "")
                            writer.uint32(/* id 6, wireType 2 =*/50).string(message.responseNonce);
                        if (message.errorDetail != null && $Object.hasOwnProperty.call(message, "errorDetail"))
                            $root.google.rpc.Status.encode(message.errorDetail, writer.uint32(/* id 7, wireType 2 =*/58).fork(), _depth + 1).ldelim();
                        if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                            for (let i = 0; i < message.$unknowns.length; ++i)
                                writer.raw(message.$unknowns[i]);
                        return writer;
                    };

                    /**
                     * Decodes a DeltaDiscoveryRequest message from the specified reader or buffer.
                     * @function decode
                     * @memberof envoy.service.discovery.v3.DeltaDiscoveryRequest
                     * @static
                     * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
                     * @param {number} [length] Message length if known beforehand
                     * @returns {envoy.service.discovery.v3.DeltaDiscoveryRequest & envoy.service.discovery.v3.DeltaDiscoveryRequest.$Shape} DeltaDiscoveryRequest
                     * @throws {Error} If the payload is not a reader or valid buffer
                     * @throws {$protobuf.util.ProtocolError} If required fields are missing
                     */
                    DeltaDiscoveryRequest.decode = function (reader, length, _end, _depth, _target) {
                        if (!(reader instanceof $Reader))
                            reader = $Reader.create(reader);
                        if (_depth === $undefined)
                            _depth = 0;
                        if (_depth > $Reader.recursionLimit)
                            throw $Error("max depth exceeded");
                        let end, message, key, value;
                        if (length === $undefined)
                            end = reader.len;
                        else {
                            end = reader.pos + length;
                            if (end > reader.len)
                                throw $RangeError("index out of range");
                            length = reader.len;
                            reader.len = end;
                        }
                        message = _target || new $root.envoy.service.discovery.v3.DeltaDiscoveryRequest();
                        while (reader.pos < end) {
                            let start = reader.pos;
                            let tag = reader.tag();
                            if (tag === _end) {
                                _end = $undefined;
                                break;
                            }
                            let wireType = tag & 7;
                            switch (tag >>>= 3) {
                            case 1: {
                                    if (wireType !== 2)
                                        break;
                                    message.node = $root.envoy.config.core.v3.Node.decode(reader, reader.size(), $undefined, _depth + 1, message.node);
                                    continue;
                                }
                            case 2: {
                                    if (wireType !== 2)
                                        break;
                                    if ((value = reader.stringVerify()).length)
                                        message.typeUrl = value;
                                    else
                                        delete message.typeUrl;
                                    continue;
                                }
                            case 3: {
                                    if (wireType !== 2)
                                        break;
                                    if (!(message.resourceNamesSubscribe && message.resourceNamesSubscribe.length))
                                        message.resourceNamesSubscribe = [];
                                    message.resourceNamesSubscribe.push(reader.stringVerify());
                                    continue;
                                }
                            case 4: {
                                    if (wireType !== 2)
                                        break;
                                    if (!(message.resourceNamesUnsubscribe && message.resourceNamesUnsubscribe.length))
                                        message.resourceNamesUnsubscribe = [];
                                    message.resourceNamesUnsubscribe.push(reader.stringVerify());
                                    continue;
                                }
                            case 5: {
                                    if (wireType !== 2)
                                        break;
                                    if (message.initialResourceVersions === $util.emptyObject)
                                        message.initialResourceVersions = {};
                                    let end2 = reader.size() + reader.pos;
                                    if (end2 > reader.len)
                                        throw $RangeError("index out of range");
                                    reader.len = end2;
                                    key = "";
                                    value = "";
                                    while (reader.pos < end2) {
                                        let tag2 = reader.tag();
                                        wireType = tag2 & 7;
                                        switch (tag2 >>>= 3) {
                                        case 1:
                                            if (wireType !== 2)
                                                break;
                                            key = reader.stringVerify();
                                            continue;
                                        case 2:
                                            if (wireType !== 2)
                                                break;
                                            value = reader.stringVerify();
                                            continue;
                                        }
                                        reader.skipType(wireType, _depth, tag2);
                                    }
                                    if (reader.pos !== end2)
                                        throw $RangeError("index out of range");
                                    reader.len = end;
                                    if (key === "__proto__")
                                        $util.makeProp(message.initialResourceVersions, key);
                                    message.initialResourceVersions[key] = value;
                                    continue;
                                }
                            case 6: {
                                    if (wireType !== 2)
                                        break;
                                    if ((value = reader.stringVerify()).length)
                                        message.responseNonce = value;
                                    else
                                        delete message.responseNonce;
                                    continue;
                                }
                            case 7: {
                                    if (wireType !== 2)
                                        break;
                                    message.errorDetail = $root.google.rpc.Status.decode(reader, reader.size(), $undefined, _depth + 1, message.errorDetail);
                                    continue;
                                }
                            }
                            reader.skipType(wireType, _depth, tag);
                            if (!reader.discardUnknown) {
                                $util.makeProp(message, "$unknowns", false);
                                (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                            }
                        }
                        if (length !== $undefined) {
                            if (reader.pos !== end)
                                throw $RangeError("index out of range");
                            reader.len = length;
                        }
                        if (_end !== $undefined)
                            throw $Error("missing end group");
                        return message;
                    };

                    /**
                     * Gets the type url for DeltaDiscoveryRequest
                     * @function getTypeUrl
                     * @memberof envoy.service.discovery.v3.DeltaDiscoveryRequest
                     * @static
                     * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
                     * @returns {string} The type url
                     */
                    DeltaDiscoveryRequest.getTypeUrl = function(prefix) {
                        if (prefix === $undefined)
                            prefix = "type.googleapis.com";
                        return prefix + "/envoy.service.discovery.v3.DeltaDiscoveryRequest";
                    };

                    return DeltaDiscoveryRequest;
                })();

                v3.DeltaDiscoveryResponse = (function() {

                    /**
                     * Properties of a DeltaDiscoveryResponse.
                     * @typedef {Object} envoy.service.discovery.v3.DeltaDiscoveryResponse.$Properties
                     * @property {string|null} [systemVersionInfo] DeltaDiscoveryResponse systemVersionInfo
                     * @property {Array.<envoy.service.discovery.v3.Resource.$Properties>|null} [resources] DeltaDiscoveryResponse resources
                     * @property {string|null} [typeUrl] DeltaDiscoveryResponse typeUrl
                     * @property {string|null} [nonce] DeltaDiscoveryResponse nonce
                     * @property {Array.<string>|null} [removedResources] DeltaDiscoveryResponse removedResources
                     * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
                     */

                    /**
                     * Properties of a DeltaDiscoveryResponse.
                     * @memberof envoy.service.discovery.v3
                     * @interface IDeltaDiscoveryResponse
                     * @augments envoy.service.discovery.v3.DeltaDiscoveryResponse.$Properties
                     * @deprecated Use envoy.service.discovery.v3.DeltaDiscoveryResponse.$Properties instead.
                     */

                    /**
                     * Shape of a DeltaDiscoveryResponse.
                     * @typedef {envoy.service.discovery.v3.DeltaDiscoveryResponse.$Properties} envoy.service.discovery.v3.DeltaDiscoveryResponse.$Shape
                     */

                    /**
                     * Constructs a new DeltaDiscoveryResponse.
                     * @memberof envoy.service.discovery.v3
                     * @classdesc Represents a DeltaDiscoveryResponse.
                     * @constructor
                     * @param {envoy.service.discovery.v3.DeltaDiscoveryResponse.$Properties=} [properties] Properties to set
                     * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
                     */
                    const DeltaDiscoveryResponse = function (properties) {
                        this.resources = [];
                        this.removedResources = [];
                        if (properties)
                            for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                                if (properties[keys[i]] != null && keys[i] !== "__proto__")
                                    this[keys[i]] = properties[keys[i]];
                    };

                    /**
                     * DeltaDiscoveryResponse systemVersionInfo.
                     * @member {string} systemVersionInfo
                     * @memberof envoy.service.discovery.v3.DeltaDiscoveryResponse
                     * @instance
                     */
                    DeltaDiscoveryResponse.prototype.systemVersionInfo = "";

                    /**
                     * DeltaDiscoveryResponse resources.
                     * @member {Array.<envoy.service.discovery.v3.Resource.$Properties>} resources
                     * @memberof envoy.service.discovery.v3.DeltaDiscoveryResponse
                     * @instance
                     */
                    DeltaDiscoveryResponse.prototype.resources = $util.emptyArray;

                    /**
                     * DeltaDiscoveryResponse typeUrl.
                     * @member {string} typeUrl
                     * @memberof envoy.service.discovery.v3.DeltaDiscoveryResponse
                     * @instance
                     */
                    DeltaDiscoveryResponse.prototype.typeUrl = "";

                    /**
                     * DeltaDiscoveryResponse nonce.
                     * @member {string} nonce
                     * @memberof envoy.service.discovery.v3.DeltaDiscoveryResponse
                     * @instance
                     */
                    DeltaDiscoveryResponse.prototype.nonce = "";

                    /**
                     * DeltaDiscoveryResponse removedResources.
                     * @member {Array.<string>} removedResources
                     * @memberof envoy.service.discovery.v3.DeltaDiscoveryResponse
                     * @instance
                     */
                    DeltaDiscoveryResponse.prototype.removedResources = $util.emptyArray;

                    /**
                     * Creates a new DeltaDiscoveryResponse instance using the specified properties.
                     * @function create
                     * @memberof envoy.service.discovery.v3.DeltaDiscoveryResponse
                     * @static
                     * @param {envoy.service.discovery.v3.DeltaDiscoveryResponse.$Properties=} [properties] Properties to set
                     * @returns {envoy.service.discovery.v3.DeltaDiscoveryResponse} DeltaDiscoveryResponse instance
                     * @type {{
                     *   (properties: envoy.service.discovery.v3.DeltaDiscoveryResponse.$Shape): envoy.service.discovery.v3.DeltaDiscoveryResponse & envoy.service.discovery.v3.DeltaDiscoveryResponse.$Shape;
                     *   (properties?: envoy.service.discovery.v3.DeltaDiscoveryResponse.$Properties): envoy.service.discovery.v3.DeltaDiscoveryResponse;
                     * }}
                     */
                    DeltaDiscoveryResponse.create = function(properties) {
                        return new DeltaDiscoveryResponse(properties);
                    };

                    /**
                     * Encodes the specified DeltaDiscoveryResponse message. Does not implicitly {@link envoy.service.discovery.v3.DeltaDiscoveryResponse.verify|verify} messages.
                     * @function encode
                     * @memberof envoy.service.discovery.v3.DeltaDiscoveryResponse
                     * @static
                     * @param {envoy.service.discovery.v3.DeltaDiscoveryResponse.$Properties} message DeltaDiscoveryResponse message or plain object to encode
                     * @param {$protobuf.Writer} [writer] Writer to encode to
                     * @returns {$protobuf.Writer} Writer
                     */
                    DeltaDiscoveryResponse.encode = function (message, writer, _depth) {
                        if (!writer)
                            writer = $Writer.create();
                        if (_depth === $undefined)
                            _depth = 0;
                        if (_depth > $util.recursionLimit)
                            throw $Error("max depth exceeded");
                        if (message.systemVersionInfo != null && $Object.hasOwnProperty.call(message, "systemVersionInfo") && message.systemVersionInfo !== "")
                            writer.uint32(/* id 1, wireType 2 =*/10).string(message.systemVersionInfo);
                        if (message.resources != null && message.resources.length)
                            for (let i = 0; i < message.resources.length; ++i)
                                $root.envoy.service.discovery.v3.Resource.encode(message.resources[i], writer.uint32(/* id 2, wireType 2 =*/18).fork(), _depth + 1).ldelim();
                        if (message.typeUrl != null && $Object.hasOwnProperty.call(message, "typeUrl") && message.typeUrl !== "")
                            writer.uint32(/* id 4, wireType 2 =*/34).string(message.typeUrl);
                        if (message.nonce != null && $Object.hasOwnProperty.call(message, "nonce") && message.nonce !== "")
                            writer.uint32(/* id 5, wireType 2 =*/42).string(message.nonce);
                        if (message.removedResources != null && message.removedResources.length)
                            for (let i = 0; i < message.removedResources.length; ++i)
                                writer.uint32(/* id 6, wireType 2 =*/50).string(message.removedResources[i]);
                        if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                            for (let i = 0; i < message.$unknowns.length; ++i)
                                writer.raw(message.$unknowns[i]);
                        return writer;
                    };

                    /**
                     * Decodes a DeltaDiscoveryResponse message from the specified reader or buffer.
                     * @function decode
                     * @memberof envoy.service.discovery.v3.DeltaDiscoveryResponse
                     * @static
                     * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
                     * @param {number} [length] Message length if known beforehand
                     * @returns {envoy.service.discovery.v3.DeltaDiscoveryResponse & envoy.service.discovery.v3.DeltaDiscoveryResponse.$Shape} DeltaDiscoveryResponse
                     * @throws {Error} If the payload is not a reader or valid buffer
                     * @throws {$protobuf.util.ProtocolError} If required fields are missing
                     */
                    DeltaDiscoveryResponse.decode = function (reader, length, _end, _depth, _target) {
                        if (!(reader instanceof $Reader))
                            reader = $Reader.create(reader);
                        if (_depth === $undefined)
                            _depth = 0;
                        if (_depth > $Reader.recursionLimit)
                            throw $Error("max depth exceeded");
                        let end, message, value;
                        if (length === $undefined)
                            end = reader.len;
                        else {
                            end = reader.pos + length;
                            if (end > reader.len)
                                throw $RangeError("index out of range");
                            length = reader.len;
                            reader.len = end;
                        }
                        message = _target || new $root.envoy.service.discovery.v3.DeltaDiscoveryResponse();
                        while (reader.pos < end) {
                            let start = reader.pos;
                            let tag = reader.tag();
                            if (tag === _end) {
                                _end = $undefined;
                                break;
                            }
                            let wireType = tag & 7;
                            switch (tag >>>= 3) {
                            case 1: {
                                    if (wireType !== 2)
                                        break;
                                    if ((value = reader.stringVerify()).length)
                                        message.systemVersionInfo = value;
                                    else
                                        delete message.systemVersionInfo;
                                    continue;
                                }
                            case 2: {
                                    if (wireType !== 2)
                                        break;
                                    if (!(message.resources && message.resources.length))
                                        message.resources = [];
                                    message.resources.push($root.envoy.service.discovery.v3.Resource.decode(reader, reader.size(), $undefined, _depth + 1));
                                    continue;
                                }
                            case 4: {
                                    if (wireType !== 2)
                                        break;
                                    if ((value = reader.stringVerify()).length)
                                        message.typeUrl = value;
                                    else
                                        delete message.typeUrl;
                                    continue;
                                }
                            case 5: {
                                    if (wireType !== 2)
                                        break;
                                    if ((value = reader.stringVerify()).length)
                                        message.nonce = value;
                                    else
                                        delete message.nonce;
                                    continue;
                                }
                            case 6: {
                                    if (wireType !== 2)
                                        break;
                                    if (!(message.removedResources && message.removedResources.length))
                                        message.removedResources = [];
                                    message.removedResources.push(reader.stringVerify());
                                    continue;
                                }
                            }
                            reader.skipType(wireType, _depth, tag);
                            if (!reader.discardUnknown) {
                                $util.makeProp(message, "$unknowns", false);
                                (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                            }
                        }
                        if (length !== $undefined) {
                            if (reader.pos !== end)
                                throw $RangeError("index out of range");
                            reader.len = length;
                        }
                        if (_end !== $undefined)
                            throw $Error("missing end group");
                        return message;
                    };

                    /**
                     * Gets the type url for DeltaDiscoveryResponse
                     * @function getTypeUrl
                     * @memberof envoy.service.discovery.v3.DeltaDiscoveryResponse
                     * @static
                     * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
                     * @returns {string} The type url
                     */
                    DeltaDiscoveryResponse.getTypeUrl = function(prefix) {
                        if (prefix === $undefined)
                            prefix = "type.googleapis.com";
                        return prefix + "/envoy.service.discovery.v3.DeltaDiscoveryResponse";
                    };

                    return DeltaDiscoveryResponse;
                })();

                v3.Resource = (function() {

                    /**
                     * Properties of a Resource.
                     * @typedef {Object} envoy.service.discovery.v3.Resource.$Properties
                     * @property {string|null} [version] Resource version
                     * @property {google.protobuf.Any.$Properties|null} [resource] Resource resource
                     * @property {string|null} [name] Resource name
                     * @property {Array.<string>|null} [aliases] Resource aliases
                     * @property {google.protobuf.Duration.$Properties|null} [ttl] Resource ttl
                     * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
                     */

                    /**
                     * Properties of a Resource.
                     * @memberof envoy.service.discovery.v3
                     * @interface IResource
                     * @augments envoy.service.discovery.v3.Resource.$Properties
                     * @deprecated Use envoy.service.discovery.v3.Resource.$Properties instead.
                     */

                    /**
                     * Shape of a Resource.
                     * @typedef {envoy.service.discovery.v3.Resource.$Properties} envoy.service.discovery.v3.Resource.$Shape
                     */

                    /**
                     * Constructs a new Resource.
                     * @memberof envoy.service.discovery.v3
                     * @classdesc Represents a Resource.
                     * @constructor
                     * @param {envoy.service.discovery.v3.Resource.$Properties=} [properties] Properties to set
                     * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
                     */
                    const Resource = function (properties) {
                        this.aliases = [];
                        if (properties)
                            for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                                if (properties[keys[i]] != null && keys[i] !== "__proto__")
                                    this[keys[i]] = properties[keys[i]];
                    };

                    /**
                     * Resource version.
                     * @member {string} version
                     * @memberof envoy.service.discovery.v3.Resource
                     * @instance
                     */
                    Resource.prototype.version = "";

                    /**
                     * Resource resource.
                     * @member {google.protobuf.Any.$Properties|null|undefined} resource
                     * @memberof envoy.service.discovery.v3.Resource
                     * @instance
                     */
                    Resource.prototype.resource = null;

                    /**
                     * Resource name.
                     * @member {string} name
                     * @memberof envoy.service.discovery.v3.Resource
                     * @instance
                     */
                    Resource.prototype.name = "";

                    /**
                     * Resource aliases.
                     * @member {Array.<string>} aliases
                     * @memberof envoy.service.discovery.v3.Resource
                     * @instance
                     */
                    Resource.prototype.aliases = $util.emptyArray;

                    /**
                     * Resource ttl.
                     * @member {google.protobuf.Duration.$Properties|null|undefined} ttl
                     * @memberof envoy.service.discovery.v3.Resource
                     * @instance
                     */
                    Resource.prototype.ttl = null;

                    /**
                     * Creates a new Resource instance using the specified properties.
                     * @function create
                     * @memberof envoy.service.discovery.v3.Resource
                     * @static
                     * @param {envoy.service.discovery.v3.Resource.$Properties=} [properties] Properties to set
                     * @returns {envoy.service.discovery.v3.Resource} Resource instance
                     * @type {{
                     *   (properties: envoy.service.discovery.v3.Resource.$Shape): envoy.service.discovery.v3.Resource & envoy.service.discovery.v3.Resource.$Shape;
                     *   (properties?: envoy.service.discovery.v3.Resource.$Properties): envoy.service.discovery.v3.Resource;
                     * }}
                     */
                    Resource.create = function(properties) {
                        return new Resource(properties);
                    };

                    /**
                     * Encodes the specified Resource message. Does not implicitly {@link envoy.service.discovery.v3.Resource.verify|verify} messages.
                     * @function encode
                     * @memberof envoy.service.discovery.v3.Resource
                     * @static
                     * @param {envoy.service.discovery.v3.Resource.$Properties} message Resource message or plain object to encode
                     * @param {$protobuf.Writer} [writer] Writer to encode to
                     * @returns {$protobuf.Writer} Writer
                     */
                    Resource.encode = function (message, writer, _depth) {
                        if (!writer)
                            writer = $Writer.create();
                        if (_depth === $undefined)
                            _depth = 0;
                        if (_depth > $util.recursionLimit)
                            throw $Error("max depth exceeded");
                        if (message.version != null && $Object.hasOwnProperty.call(message, "version") && message.version !== "")
                            writer.uint32(/* id 1, wireType 2 =*/10).string(message.version);
                        if (message.resource != null && $Object.hasOwnProperty.call(message, "resource"))
                            $root.google.protobuf.Any.encode(message.resource, writer.uint32(/* id 2, wireType 2 =*/18).fork(), _depth + 1).ldelim();
                        if (message.name != null && $Object.hasOwnProperty.call(message, "name") && message.name !== "")
                            writer.uint32(/* id 3, wireType 2 =*/26).string(message.name);
                        if (message.aliases != null && message.aliases.length)
                            for (let i = 0; i < message.aliases.length; ++i)
                                writer.uint32(/* id 4, wireType 2 =*/34).string(message.aliases[i]);
                        if (message.ttl != null && $Object.hasOwnProperty.call(message, "ttl"))
                            $root.google.protobuf.Duration.encode(message.ttl, writer.uint32(/* id 6, wireType 2 =*/50).fork(), _depth + 1).ldelim();
                        if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                            for (let i = 0; i < message.$unknowns.length; ++i)
                                writer.raw(message.$unknowns[i]);
                        return writer;
                    };

                    /**
                     * Decodes a Resource message from the specified reader or buffer.
                     * @function decode
                     * @memberof envoy.service.discovery.v3.Resource
                     * @static
                     * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
                     * @param {number} [length] Message length if known beforehand
                     * @returns {envoy.service.discovery.v3.Resource & envoy.service.discovery.v3.Resource.$Shape} Resource
                     * @throws {Error} If the payload is not a reader or valid buffer
                     * @throws {$protobuf.util.ProtocolError} If required fields are missing
                     */
                    Resource.decode = function (reader, length, _end, _depth, _target) {
                        if (!(reader instanceof $Reader))
                            reader = $Reader.create(reader);
                        if (_depth === $undefined)
                            _depth = 0;
                        if (_depth > $Reader.recursionLimit)
                            throw $Error("max depth exceeded");
                        let end, message, value;
                        if (length === $undefined)
                            end = reader.len;
                        else {
                            end = reader.pos + length;
                            if (end > reader.len)
                                throw $RangeError("index out of range");
                            length = reader.len;
                            reader.len = end;
                        }
                        message = _target || new $root.envoy.service.discovery.v3.Resource();
                        while (reader.pos < end) {
                            let start = reader.pos;
                            let tag = reader.tag();
                            if (tag === _end) {
                                _end = $undefined;
                                break;
                            }
                            let wireType = tag & 7;
                            switch (tag >>>= 3) {
                            case 1: {
                                    if (wireType !== 2)
                                        break;
                                    if ((value = reader.stringVerify()).length)
                                        message.version = value;
                                    else
                                        delete message.version;
                                    continue;
                                }
                            case 2: {
                                    if (wireType !== 2)
                                        break;
                                    message.resource = $root.google.protobuf.Any.decode(reader, reader.size(), $undefined, _depth + 1, message.resource);
                                    continue;
                                }
                            case 3: {
                                    if (wireType !== 2)
                                        break;
                                    if ((value = reader.stringVerify()).length)
                                        message.name = value;
                                    else
                                        delete message.name;
                                    continue;
                                }
                            case 4: {
                                    if (wireType !== 2)
                                        break;
                                    if (!(message.aliases && message.aliases.length))
                                        message.aliases = [];
                                    message.aliases.push(reader.stringVerify());
                                    continue;
                                }
                            case 6: {
                                    if (wireType !== 2)
                                        break;
                                    message.ttl = $root.google.protobuf.Duration.decode(reader, reader.size(), $undefined, _depth + 1, message.ttl);
                                    continue;
                                }
                            }
                            reader.skipType(wireType, _depth, tag);
                            if (!reader.discardUnknown) {
                                $util.makeProp(message, "$unknowns", false);
                                (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                            }
                        }
                        if (length !== $undefined) {
                            if (reader.pos !== end)
                                throw $RangeError("index out of range");
                            reader.len = length;
                        }
                        if (_end !== $undefined)
                            throw $Error("missing end group");
                        return message;
                    };

                    /**
                     * Gets the type url for Resource
                     * @function getTypeUrl
                     * @memberof envoy.service.discovery.v3.Resource
                     * @static
                     * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
                     * @returns {string} The type url
                     */
                    Resource.getTypeUrl = function(prefix) {
                        if (prefix === $undefined)
                            prefix = "type.googleapis.com";
                        return prefix + "/envoy.service.discovery.v3.Resource";
                    };

                    return Resource;
                })();

                return v3;
            })();

            return discovery;
        })();

        return service;
    })();

    return envoy;
})();

export const google = $root.google = (() => {

    /**
     * Namespace google.
     * @exports google
     * @namespace
     */
    const google = {};

    google.protobuf = (function() {

        /**
         * Namespace protobuf.
         * @memberof google
         * @namespace
         */
        const protobuf = {};

        protobuf.Struct = (function() {

            /**
             * Properties of a Struct.
             * @typedef {Object} google.protobuf.Struct.$Properties
             * @property {Object.<string,google.protobuf.Value.$Properties>|null} [fields] Struct fields
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a Struct.
             * @memberof google.protobuf
             * @interface IStruct
             * @augments google.protobuf.Struct.$Properties
             * @deprecated Use google.protobuf.Struct.$Properties instead.
             */

            /**
             * Shape of a Struct.
             * @typedef {{
             *   fields?: Object.<string,google.protobuf.Value.$Shape>|null;
             *   $unknowns?: Array.<Uint8Array>;
             * }} google.protobuf.Struct.$Shape
             */

            /**
             * Constructs a new Struct.
             * @memberof google.protobuf
             * @classdesc Represents a Struct.
             * @constructor
             * @param {google.protobuf.Struct.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const Struct = function (properties) {
                this.fields = {};
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * Struct fields.
             * @member {Object.<string,google.protobuf.Value.$Properties>} fields
             * @memberof google.protobuf.Struct
             * @instance
             */
            Struct.prototype.fields = $util.emptyObject;

            /**
             * Creates a new Struct instance using the specified properties.
             * @function create
             * @memberof google.protobuf.Struct
             * @static
             * @param {google.protobuf.Struct.$Properties=} [properties] Properties to set
             * @returns {google.protobuf.Struct} Struct instance
             * @type {{
             *   (properties: google.protobuf.Struct.$Shape): google.protobuf.Struct & google.protobuf.Struct.$Shape;
             *   (properties?: google.protobuf.Struct.$Properties): google.protobuf.Struct;
             * }}
             */
            Struct.create = function(properties) {
                return new Struct(properties);
            };

            /**
             * Encodes the specified Struct message. Does not implicitly {@link google.protobuf.Struct.verify|verify} messages.
             * @function encode
             * @memberof google.protobuf.Struct
             * @static
             * @param {google.protobuf.Struct.$Properties} message Struct message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            Struct.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.fields != null && $Object.hasOwnProperty.call(message, "fields"))
                    for (let keys = $Object.keys(message.fields), i = 0; i < keys.length; ++i) {
                        writer.uint32(/* id 1, wireType 2 =*/10).fork().uint32(/* id 1, wireType 2 =*/10).string(keys[i]);
                        $root.google.protobuf.Value.encode(message.fields[keys[i]], writer.uint32(/* id 2, wireType 2 =*/18).fork(), _depth + 1).ldelim().ldelim();
                    }
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes a Struct message from the specified reader or buffer.
             * @function decode
             * @memberof google.protobuf.Struct
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {google.protobuf.Struct & google.protobuf.Struct.$Shape} Struct
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            Struct.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, key, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.google.protobuf.Struct();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            if (message.fields === $util.emptyObject)
                                message.fields = {};
                            let end2 = reader.size() + reader.pos;
                            if (end2 > reader.len)
                                throw $RangeError("index out of range");
                            reader.len = end2;
                            key = "";
                            value = null;
                            while (reader.pos < end2) {
                                let tag2 = reader.tag();
                                wireType = tag2 & 7;
                                switch (tag2 >>>= 3) {
                                case 1:
                                    if (wireType !== 2)
                                        break;
                                    key = reader.stringVerify();
                                    continue;
                                case 2:
                                    if (wireType !== 2)
                                        break;
                                    value = $root.google.protobuf.Value.decode(reader, reader.size(), $undefined, _depth + 1, value);
                                    continue;
                                }
                                reader.skipType(wireType, _depth, tag2);
                            }
                            if (reader.pos !== end2)
                                throw $RangeError("index out of range");
                            reader.len = end;
                            if (key === "__proto__")
                                $util.makeProp(message.fields, key);
                            message.fields[key] = value || new $root.google.protobuf.Value();
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Gets the type url for Struct
             * @function getTypeUrl
             * @memberof google.protobuf.Struct
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            Struct.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/google.protobuf.Struct";
            };

            return Struct;
        })();

        protobuf.Value = (function() {

            /**
             * Properties of a Value.
             * @typedef {Object} google.protobuf.Value.$Properties
             * @property {google.protobuf.NullValue|null} [nullValue] Value nullValue
             * @property {number|null} [numberValue] Value numberValue
             * @property {string|null} [stringValue] Value stringValue
             * @property {boolean|null} [boolValue] Value boolValue
             * @property {google.protobuf.Struct.$Properties|null} [structValue] Value structValue
             * @property {google.protobuf.ListValue.$Properties|null} [listValue] Value listValue
             * @property {"nullValue"|"numberValue"|"stringValue"|"boolValue"|"structValue"|"listValue"} [kind] Value kind
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a Value.
             * @memberof google.protobuf
             * @interface IValue
             * @augments google.protobuf.Value.$Properties
             * @deprecated Use google.protobuf.Value.$Properties instead.
             */

            /**
             * Narrowed shape of a Value.
             * @typedef {{
             *   nullValue?: google.protobuf.NullValue|null;
             *   numberValue?: number|null;
             *   stringValue?: string|null;
             *   boolValue?: boolean|null;
             *   structValue?: google.protobuf.Struct.$Shape|null;
             *   listValue?: google.protobuf.ListValue.$Shape|null;
             *   $unknowns?: Array.<Uint8Array>;
             * } & (
             *   ({ kind?: undefined; nullValue?: null; numberValue?: null; stringValue?: null; boolValue?: null; structValue?: null; listValue?: null }|{ kind?: "nullValue"; nullValue: google.protobuf.NullValue; numberValue?: null; stringValue?: null; boolValue?: null; structValue?: null; listValue?: null }|{ kind?: "numberValue"; nullValue?: null; numberValue: number; stringValue?: null; boolValue?: null; structValue?: null; listValue?: null }|{ kind?: "stringValue"; nullValue?: null; numberValue?: null; stringValue: string; boolValue?: null; structValue?: null; listValue?: null }|{ kind?: "boolValue"; nullValue?: null; numberValue?: null; stringValue?: null; boolValue: boolean; structValue?: null; listValue?: null }|{ kind?: "structValue"; nullValue?: null; numberValue?: null; stringValue?: null; boolValue?: null; structValue: google.protobuf.Struct.$Shape; listValue?: null }|{ kind?: "listValue"; nullValue?: null; numberValue?: null; stringValue?: null; boolValue?: null; structValue?: null; listValue: google.protobuf.ListValue.$Shape })
             * )} google.protobuf.Value.$Shape
             */

            /**
             * Constructs a new Value.
             * @memberof google.protobuf
             * @classdesc Represents a Value.
             * @constructor
             * @param {google.protobuf.Value.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const Value = function (properties) {
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * Value nullValue.
             * @member {google.protobuf.NullValue|null|undefined} nullValue
             * @memberof google.protobuf.Value
             * @instance
             */
            Value.prototype.nullValue = null;

            /**
             * Value numberValue.
             * @member {number|null|undefined} numberValue
             * @memberof google.protobuf.Value
             * @instance
             */
            Value.prototype.numberValue = null;

            /**
             * Value stringValue.
             * @member {string|null|undefined} stringValue
             * @memberof google.protobuf.Value
             * @instance
             */
            Value.prototype.stringValue = null;

            /**
             * Value boolValue.
             * @member {boolean|null|undefined} boolValue
             * @memberof google.protobuf.Value
             * @instance
             */
            Value.prototype.boolValue = null;

            /**
             * Value structValue.
             * @member {google.protobuf.Struct.$Properties|null|undefined} structValue
             * @memberof google.protobuf.Value
             * @instance
             */
            Value.prototype.structValue = null;

            /**
             * Value listValue.
             * @member {google.protobuf.ListValue.$Properties|null|undefined} listValue
             * @memberof google.protobuf.Value
             * @instance
             */
            Value.prototype.listValue = null;

            // OneOf field names bound to virtual getters and setters
            let $oneOfFields;

            /**
             * Value kind.
             * @member {"nullValue"|"numberValue"|"stringValue"|"boolValue"|"structValue"|"listValue"|undefined} kind
             * @memberof google.protobuf.Value
             * @instance
             */
            $Object.defineProperty(Value.prototype, "kind", {
                get: $util.oneOfGetter($oneOfFields = ["nullValue", "numberValue", "stringValue", "boolValue", "structValue", "listValue"]),
                set: $util.oneOfSetter($oneOfFields)
            });

            /**
             * Creates a new Value instance using the specified properties.
             * @function create
             * @memberof google.protobuf.Value
             * @static
             * @param {google.protobuf.Value.$Properties=} [properties] Properties to set
             * @returns {google.protobuf.Value} Value instance
             * @type {{
             *   (properties: google.protobuf.Value.$Shape): google.protobuf.Value & google.protobuf.Value.$Shape;
             *   (properties?: google.protobuf.Value.$Properties): google.protobuf.Value;
             * }}
             */
            Value.create = function(properties) {
                return new Value(properties);
            };

            /**
             * Encodes the specified Value message. Does not implicitly {@link google.protobuf.Value.verify|verify} messages.
             * @function encode
             * @memberof google.protobuf.Value
             * @static
             * @param {google.protobuf.Value.$Properties} message Value message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            Value.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.nullValue != null && $Object.hasOwnProperty.call(message, "nullValue"))
                    writer.uint32(/* id 1, wireType 0 =*/8).int32(message.nullValue);
                if (message.numberValue != null && $Object.hasOwnProperty.call(message, "numberValue"))
                    writer.uint32(/* id 2, wireType 1 =*/17).double(message.numberValue);
                if (message.stringValue != null && $Object.hasOwnProperty.call(message, "stringValue"))
                    writer.uint32(/* id 3, wireType 2 =*/26).string(message.stringValue);
                if (message.boolValue != null && $Object.hasOwnProperty.call(message, "boolValue"))
                    writer.uint32(/* id 4, wireType 0 =*/32).bool(message.boolValue);
                if (message.structValue != null && $Object.hasOwnProperty.call(message, "structValue"))
                    $root.google.protobuf.Struct.encode(message.structValue, writer.uint32(/* id 5, wireType 2 =*/42).fork(), _depth + 1).ldelim();
                if (message.listValue != null && $Object.hasOwnProperty.call(message, "listValue"))
                    $root.google.protobuf.ListValue.encode(message.listValue, writer.uint32(/* id 6, wireType 2 =*/50).fork(), _depth + 1).ldelim();
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes a Value message from the specified reader or buffer.
             * @function decode
             * @memberof google.protobuf.Value
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {google.protobuf.Value & google.protobuf.Value.$Shape} Value
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            Value.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.google.protobuf.Value();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 0)
                                break;
                            message.nullValue = reader.int32();
                            message.kind = "nullValue";
                            continue;
                        }
                    case 2: {
                            if (wireType !== 1)
                                break;
                            message.numberValue = reader.double();
                            message.kind = "numberValue";
                            continue;
                        }
                    case 3: {
                            if (wireType !== 2)
                                break;
                            message.stringValue = reader.stringVerify();
                            message.kind = "stringValue";
                            continue;
                        }
                    case 4: {
                            if (wireType !== 0)
                                break;
                            message.boolValue = reader.bool();
                            message.kind = "boolValue";
                            continue;
                        }
                    case 5: {
                            if (wireType !== 2)
                                break;
                            message.structValue = $root.google.protobuf.Struct.decode(reader, reader.size(), $undefined, _depth + 1, message.structValue);
                            message.kind = "structValue";
                            continue;
                        }
                    case 6: {
                            if (wireType !== 2)
                                break;
                            message.listValue = $root.google.protobuf.ListValue.decode(reader, reader.size(), $undefined, _depth + 1, message.listValue);
                            message.kind = "listValue";
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Gets the type url for Value
             * @function getTypeUrl
             * @memberof google.protobuf.Value
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            Value.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/google.protobuf.Value";
            };

            return Value;
        })();

        /**
         * NullValue enum.
         * @name google.protobuf.NullValue
         * @enum {number}
         * @property {number} NULL_VALUE=0 NULL_VALUE value
         */
        protobuf.NullValue = (function() {
            const valuesById = $Object.create(null), values = $Object.create(valuesById);
            values[valuesById[0] = "NULL_VALUE"] = 0;
            return values;
        })();

        protobuf.ListValue = (function() {

            /**
             * Properties of a ListValue.
             * @typedef {Object} google.protobuf.ListValue.$Properties
             * @property {Array.<google.protobuf.Value.$Properties>|null} [values] ListValue values
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a ListValue.
             * @memberof google.protobuf
             * @interface IListValue
             * @augments google.protobuf.ListValue.$Properties
             * @deprecated Use google.protobuf.ListValue.$Properties instead.
             */

            /**
             * Shape of a ListValue.
             * @typedef {{
             *   values?: Array.<google.protobuf.Value.$Shape>|null;
             *   $unknowns?: Array.<Uint8Array>;
             * }} google.protobuf.ListValue.$Shape
             */

            /**
             * Constructs a new ListValue.
             * @memberof google.protobuf
             * @classdesc Represents a ListValue.
             * @constructor
             * @param {google.protobuf.ListValue.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const ListValue = function (properties) {
                this.values = [];
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * ListValue values.
             * @member {Array.<google.protobuf.Value.$Properties>} values
             * @memberof google.protobuf.ListValue
             * @instance
             */
            ListValue.prototype.values = $util.emptyArray;

            /**
             * Creates a new ListValue instance using the specified properties.
             * @function create
             * @memberof google.protobuf.ListValue
             * @static
             * @param {google.protobuf.ListValue.$Properties=} [properties] Properties to set
             * @returns {google.protobuf.ListValue} ListValue instance
             * @type {{
             *   (properties: google.protobuf.ListValue.$Shape): google.protobuf.ListValue & google.protobuf.ListValue.$Shape;
             *   (properties?: google.protobuf.ListValue.$Properties): google.protobuf.ListValue;
             * }}
             */
            ListValue.create = function(properties) {
                return new ListValue(properties);
            };

            /**
             * Encodes the specified ListValue message. Does not implicitly {@link google.protobuf.ListValue.verify|verify} messages.
             * @function encode
             * @memberof google.protobuf.ListValue
             * @static
             * @param {google.protobuf.ListValue.$Properties} message ListValue message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            ListValue.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.values != null && message.values.length)
                    for (let i = 0; i < message.values.length; ++i)
                        $root.google.protobuf.Value.encode(message.values[i], writer.uint32(/* id 1, wireType 2 =*/10).fork(), _depth + 1).ldelim();
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes a ListValue message from the specified reader or buffer.
             * @function decode
             * @memberof google.protobuf.ListValue
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {google.protobuf.ListValue & google.protobuf.ListValue.$Shape} ListValue
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            ListValue.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.google.protobuf.ListValue();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            if (!(message.values && message.values.length))
                                message.values = [];
                            message.values.push($root.google.protobuf.Value.decode(reader, reader.size(), $undefined, _depth + 1));
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Gets the type url for ListValue
             * @function getTypeUrl
             * @memberof google.protobuf.ListValue
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            ListValue.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/google.protobuf.ListValue";
            };

            return ListValue;
        })();

        protobuf.Any = (function() {

            /**
             * Properties of an Any.
             * @typedef {Object} google.protobuf.Any.$Properties
             * @property {string|null} [type_url] Any type_url
             * @property {Uint8Array|null} [value] Any value
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of an Any.
             * @memberof google.protobuf
             * @interface IAny
             * @augments google.protobuf.Any.$Properties
             * @deprecated Use google.protobuf.Any.$Properties instead.
             */

            /**
             * Shape of an Any.
             * @typedef {google.protobuf.Any.$Properties} google.protobuf.Any.$Shape
             */

            /**
             * Constructs a new Any.
             * @memberof google.protobuf
             * @classdesc Represents an Any.
             * @constructor
             * @param {google.protobuf.Any.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const Any = function (properties) {
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * Any type_url.
             * @member {string} type_url
             * @memberof google.protobuf.Any
             * @instance
             */
            Any.prototype.type_url = "";

            /**
             * Any value.
             * @member {Uint8Array} value
             * @memberof google.protobuf.Any
             * @instance
             */
            Any.prototype.value = $util.newBuffer([]);

            /**
             * Creates a new Any instance using the specified properties.
             * @function create
             * @memberof google.protobuf.Any
             * @static
             * @param {google.protobuf.Any.$Properties=} [properties] Properties to set
             * @returns {google.protobuf.Any} Any instance
             * @type {{
             *   (properties: google.protobuf.Any.$Shape): google.protobuf.Any & google.protobuf.Any.$Shape;
             *   (properties?: google.protobuf.Any.$Properties): google.protobuf.Any;
             * }}
             */
            Any.create = function(properties) {
                return new Any(properties);
            };

            /**
             * Encodes the specified Any message. Does not implicitly {@link google.protobuf.Any.verify|verify} messages.
             * @function encode
             * @memberof google.protobuf.Any
             * @static
             * @param {google.protobuf.Any.$Properties} message Any message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            Any.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.type_url != null && $Object.hasOwnProperty.call(message, "type_url") && message.type_url !== "")
                    writer.uint32(/* id 1, wireType 2 =*/10).string(message.type_url);
                if (message.value != null && $Object.hasOwnProperty.call(message, "value") && message.value.length)
                    writer.uint32(/* id 2, wireType 2 =*/18).bytes(message.value);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes an Any message from the specified reader or buffer.
             * @function decode
             * @memberof google.protobuf.Any
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {google.protobuf.Any & google.protobuf.Any.$Shape} Any
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            Any.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.google.protobuf.Any();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.type_url = value;
                            else
                                delete message.type_url;
                            continue;
                        }
                    case 2: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.bytes()).length)
                                message.value = value;
                            else
                                delete message.value;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Gets the type url for Any
             * @function getTypeUrl
             * @memberof google.protobuf.Any
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            Any.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/google.protobuf.Any";
            };

            return Any;
        })();

        protobuf.Duration = (function() {

            /**
             * Properties of a Duration.
             * @typedef {Object} google.protobuf.Duration.$Properties
             * @property {number|null} [seconds] Duration seconds
             * @property {number|null} [nanos] Duration nanos
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a Duration.
             * @memberof google.protobuf
             * @interface IDuration
             * @augments google.protobuf.Duration.$Properties
             * @deprecated Use google.protobuf.Duration.$Properties instead.
             */

            /**
             * Shape of a Duration.
             * @typedef {google.protobuf.Duration.$Properties} google.protobuf.Duration.$Shape
             */

            /**
             * Constructs a new Duration.
             * @memberof google.protobuf
             * @classdesc Represents a Duration.
             * @constructor
             * @param {google.protobuf.Duration.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const Duration = function (properties) {
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * Duration seconds.
             * @member {number} seconds
             * @memberof google.protobuf.Duration
             * @instance
             */
            Duration.prototype.seconds = $util.Long ? $util.Long.fromBits(0,0,false) : 0;

            /**
             * Duration nanos.
             * @member {number} nanos
             * @memberof google.protobuf.Duration
             * @instance
             */
            Duration.prototype.nanos = 0;

            /**
             * Creates a new Duration instance using the specified properties.
             * @function create
             * @memberof google.protobuf.Duration
             * @static
             * @param {google.protobuf.Duration.$Properties=} [properties] Properties to set
             * @returns {google.protobuf.Duration} Duration instance
             * @type {{
             *   (properties: google.protobuf.Duration.$Shape): google.protobuf.Duration & google.protobuf.Duration.$Shape;
             *   (properties?: google.protobuf.Duration.$Properties): google.protobuf.Duration;
             * }}
             */
            Duration.create = function(properties) {
                return new Duration(properties);
            };

            /**
             * Encodes the specified Duration message. Does not implicitly {@link google.protobuf.Duration.verify|verify} messages.
             * @function encode
             * @memberof google.protobuf.Duration
             * @static
             * @param {google.protobuf.Duration.$Properties} message Duration message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            Duration.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.seconds != null && $Object.hasOwnProperty.call(message, "seconds") && (typeof message.seconds === "object" ? message.seconds.low || message.seconds.high : message.seconds !== 0))
                    writer.uint32(/* id 1, wireType 0 =*/8).int64(message.seconds);
                if (message.nanos != null && $Object.hasOwnProperty.call(message, "nanos") && message.nanos !== 0)
                    writer.uint32(/* id 2, wireType 0 =*/16).int32(message.nanos);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes a Duration message from the specified reader or buffer.
             * @function decode
             * @memberof google.protobuf.Duration
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {google.protobuf.Duration & google.protobuf.Duration.$Shape} Duration
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            Duration.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.google.protobuf.Duration();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 0)
                                break;
                            if (typeof (value = reader.int64()) === "object" ? value.low || value.high : value !== 0)
                                message.seconds = value;
                            else
                                delete message.seconds;
                            continue;
                        }
                    case 2: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.int32())
                                message.nanos = value;
                            else
                                delete message.nanos;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Gets the type url for Duration
             * @function getTypeUrl
             * @memberof google.protobuf.Duration
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            Duration.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/google.protobuf.Duration";
            };

            return Duration;
        })();

        protobuf.Empty = (function() {

            /**
             * Properties of an Empty.
             * @typedef {Object} google.protobuf.Empty.$Properties
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of an Empty.
             * @memberof google.protobuf
             * @interface IEmpty
             * @augments google.protobuf.Empty.$Properties
             * @deprecated Use google.protobuf.Empty.$Properties instead.
             */

            /**
             * Shape of an Empty.
             * @typedef {google.protobuf.Empty.$Properties} google.protobuf.Empty.$Shape
             */

            /**
             * Constructs a new Empty.
             * @memberof google.protobuf
             * @classdesc Represents an Empty.
             * @constructor
             * @param {google.protobuf.Empty.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const Empty = function (properties) {
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * Creates a new Empty instance using the specified properties.
             * @function create
             * @memberof google.protobuf.Empty
             * @static
             * @param {google.protobuf.Empty.$Properties=} [properties] Properties to set
             * @returns {google.protobuf.Empty} Empty instance
             * @type {{
             *   (properties: google.protobuf.Empty.$Shape): google.protobuf.Empty & google.protobuf.Empty.$Shape;
             *   (properties?: google.protobuf.Empty.$Properties): google.protobuf.Empty;
             * }}
             */
            Empty.create = function(properties) {
                return new Empty(properties);
            };

            /**
             * Encodes the specified Empty message. Does not implicitly {@link google.protobuf.Empty.verify|verify} messages.
             * @function encode
             * @memberof google.protobuf.Empty
             * @static
             * @param {google.protobuf.Empty.$Properties} message Empty message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            Empty.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes an Empty message from the specified reader or buffer.
             * @function decode
             * @memberof google.protobuf.Empty
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {google.protobuf.Empty & google.protobuf.Empty.$Shape} Empty
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            Empty.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.google.protobuf.Empty();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    reader.skipType(tag & 7, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Gets the type url for Empty
             * @function getTypeUrl
             * @memberof google.protobuf.Empty
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            Empty.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/google.protobuf.Empty";
            };

            return Empty;
        })();

        protobuf.DoubleValue = (function() {

            /**
             * Properties of a DoubleValue.
             * @typedef {Object} google.protobuf.DoubleValue.$Properties
             * @property {number|null} [value] DoubleValue value
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a DoubleValue.
             * @memberof google.protobuf
             * @interface IDoubleValue
             * @augments google.protobuf.DoubleValue.$Properties
             * @deprecated Use google.protobuf.DoubleValue.$Properties instead.
             */

            /**
             * Shape of a DoubleValue.
             * @typedef {google.protobuf.DoubleValue.$Properties} google.protobuf.DoubleValue.$Shape
             */

            /**
             * Constructs a new DoubleValue.
             * @memberof google.protobuf
             * @classdesc Represents a DoubleValue.
             * @constructor
             * @param {google.protobuf.DoubleValue.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const DoubleValue = function (properties) {
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * DoubleValue value.
             * @member {number} value
             * @memberof google.protobuf.DoubleValue
             * @instance
             */
            DoubleValue.prototype.value = 0;

            /**
             * Creates a new DoubleValue instance using the specified properties.
             * @function create
             * @memberof google.protobuf.DoubleValue
             * @static
             * @param {google.protobuf.DoubleValue.$Properties=} [properties] Properties to set
             * @returns {google.protobuf.DoubleValue} DoubleValue instance
             * @type {{
             *   (properties: google.protobuf.DoubleValue.$Shape): google.protobuf.DoubleValue & google.protobuf.DoubleValue.$Shape;
             *   (properties?: google.protobuf.DoubleValue.$Properties): google.protobuf.DoubleValue;
             * }}
             */
            DoubleValue.create = function(properties) {
                return new DoubleValue(properties);
            };

            /**
             * Encodes the specified DoubleValue message. Does not implicitly {@link google.protobuf.DoubleValue.verify|verify} messages.
             * @function encode
             * @memberof google.protobuf.DoubleValue
             * @static
             * @param {google.protobuf.DoubleValue.$Properties} message DoubleValue message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            DoubleValue.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.value != null && $Object.hasOwnProperty.call(message, "value") && !$Object.is(message.value, 0))
                    writer.uint32(/* id 1, wireType 1 =*/9).double(message.value);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes a DoubleValue message from the specified reader or buffer.
             * @function decode
             * @memberof google.protobuf.DoubleValue
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {google.protobuf.DoubleValue & google.protobuf.DoubleValue.$Shape} DoubleValue
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            DoubleValue.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.google.protobuf.DoubleValue();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 1)
                                break;
                            if (!$Object.is(value = reader.double(), 0))
                                message.value = value;
                            else
                                delete message.value;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Gets the type url for DoubleValue
             * @function getTypeUrl
             * @memberof google.protobuf.DoubleValue
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            DoubleValue.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/google.protobuf.DoubleValue";
            };

            return DoubleValue;
        })();

        protobuf.FloatValue = (function() {

            /**
             * Properties of a FloatValue.
             * @typedef {Object} google.protobuf.FloatValue.$Properties
             * @property {number|null} [value] FloatValue value
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a FloatValue.
             * @memberof google.protobuf
             * @interface IFloatValue
             * @augments google.protobuf.FloatValue.$Properties
             * @deprecated Use google.protobuf.FloatValue.$Properties instead.
             */

            /**
             * Shape of a FloatValue.
             * @typedef {google.protobuf.FloatValue.$Properties} google.protobuf.FloatValue.$Shape
             */

            /**
             * Constructs a new FloatValue.
             * @memberof google.protobuf
             * @classdesc Represents a FloatValue.
             * @constructor
             * @param {google.protobuf.FloatValue.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const FloatValue = function (properties) {
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * FloatValue value.
             * @member {number} value
             * @memberof google.protobuf.FloatValue
             * @instance
             */
            FloatValue.prototype.value = 0;

            /**
             * Creates a new FloatValue instance using the specified properties.
             * @function create
             * @memberof google.protobuf.FloatValue
             * @static
             * @param {google.protobuf.FloatValue.$Properties=} [properties] Properties to set
             * @returns {google.protobuf.FloatValue} FloatValue instance
             * @type {{
             *   (properties: google.protobuf.FloatValue.$Shape): google.protobuf.FloatValue & google.protobuf.FloatValue.$Shape;
             *   (properties?: google.protobuf.FloatValue.$Properties): google.protobuf.FloatValue;
             * }}
             */
            FloatValue.create = function(properties) {
                return new FloatValue(properties);
            };

            /**
             * Encodes the specified FloatValue message. Does not implicitly {@link google.protobuf.FloatValue.verify|verify} messages.
             * @function encode
             * @memberof google.protobuf.FloatValue
             * @static
             * @param {google.protobuf.FloatValue.$Properties} message FloatValue message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            FloatValue.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.value != null && $Object.hasOwnProperty.call(message, "value") && !$Object.is(message.value, 0))
                    writer.uint32(/* id 1, wireType 5 =*/13).float(message.value);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes a FloatValue message from the specified reader or buffer.
             * @function decode
             * @memberof google.protobuf.FloatValue
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {google.protobuf.FloatValue & google.protobuf.FloatValue.$Shape} FloatValue
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            FloatValue.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.google.protobuf.FloatValue();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 5)
                                break;
                            if (!$Object.is(value = reader.float(), 0))
                                message.value = value;
                            else
                                delete message.value;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Gets the type url for FloatValue
             * @function getTypeUrl
             * @memberof google.protobuf.FloatValue
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            FloatValue.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/google.protobuf.FloatValue";
            };

            return FloatValue;
        })();

        protobuf.Int64Value = (function() {

            /**
             * Properties of an Int64Value.
             * @typedef {Object} google.protobuf.Int64Value.$Properties
             * @property {number|null} [value] Int64Value value
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of an Int64Value.
             * @memberof google.protobuf
             * @interface IInt64Value
             * @augments google.protobuf.Int64Value.$Properties
             * @deprecated Use google.protobuf.Int64Value.$Properties instead.
             */

            /**
             * Shape of an Int64Value.
             * @typedef {google.protobuf.Int64Value.$Properties} google.protobuf.Int64Value.$Shape
             */

            /**
             * Constructs a new Int64Value.
             * @memberof google.protobuf
             * @classdesc Represents an Int64Value.
             * @constructor
             * @param {google.protobuf.Int64Value.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const Int64Value = function (properties) {
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * Int64Value value.
             * @member {number} value
             * @memberof google.protobuf.Int64Value
             * @instance
             */
            Int64Value.prototype.value = $util.Long ? $util.Long.fromBits(0,0,false) : 0;

            /**
             * Creates a new Int64Value instance using the specified properties.
             * @function create
             * @memberof google.protobuf.Int64Value
             * @static
             * @param {google.protobuf.Int64Value.$Properties=} [properties] Properties to set
             * @returns {google.protobuf.Int64Value} Int64Value instance
             * @type {{
             *   (properties: google.protobuf.Int64Value.$Shape): google.protobuf.Int64Value & google.protobuf.Int64Value.$Shape;
             *   (properties?: google.protobuf.Int64Value.$Properties): google.protobuf.Int64Value;
             * }}
             */
            Int64Value.create = function(properties) {
                return new Int64Value(properties);
            };

            /**
             * Encodes the specified Int64Value message. Does not implicitly {@link google.protobuf.Int64Value.verify|verify} messages.
             * @function encode
             * @memberof google.protobuf.Int64Value
             * @static
             * @param {google.protobuf.Int64Value.$Properties} message Int64Value message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            Int64Value.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.value != null && $Object.hasOwnProperty.call(message, "value") && (typeof message.value === "object" ? message.value.low || message.value.high : message.value !== 0))
                    writer.uint32(/* id 1, wireType 0 =*/8).int64(message.value);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes an Int64Value message from the specified reader or buffer.
             * @function decode
             * @memberof google.protobuf.Int64Value
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {google.protobuf.Int64Value & google.protobuf.Int64Value.$Shape} Int64Value
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            Int64Value.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.google.protobuf.Int64Value();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 0)
                                break;
                            if (typeof (value = reader.int64()) === "object" ? value.low || value.high : value !== 0)
                                message.value = value;
                            else
                                delete message.value;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Gets the type url for Int64Value
             * @function getTypeUrl
             * @memberof google.protobuf.Int64Value
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            Int64Value.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/google.protobuf.Int64Value";
            };

            return Int64Value;
        })();

        protobuf.UInt64Value = (function() {

            /**
             * Properties of a UInt64Value.
             * @typedef {Object} google.protobuf.UInt64Value.$Properties
             * @property {number|null} [value] UInt64Value value
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a UInt64Value.
             * @memberof google.protobuf
             * @interface IUInt64Value
             * @augments google.protobuf.UInt64Value.$Properties
             * @deprecated Use google.protobuf.UInt64Value.$Properties instead.
             */

            /**
             * Shape of a UInt64Value.
             * @typedef {google.protobuf.UInt64Value.$Properties} google.protobuf.UInt64Value.$Shape
             */

            /**
             * Constructs a new UInt64Value.
             * @memberof google.protobuf
             * @classdesc Represents a UInt64Value.
             * @constructor
             * @param {google.protobuf.UInt64Value.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const UInt64Value = function (properties) {
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * UInt64Value value.
             * @member {number} value
             * @memberof google.protobuf.UInt64Value
             * @instance
             */
            UInt64Value.prototype.value = $util.Long ? $util.Long.fromBits(0,0,true) : 0;

            /**
             * Creates a new UInt64Value instance using the specified properties.
             * @function create
             * @memberof google.protobuf.UInt64Value
             * @static
             * @param {google.protobuf.UInt64Value.$Properties=} [properties] Properties to set
             * @returns {google.protobuf.UInt64Value} UInt64Value instance
             * @type {{
             *   (properties: google.protobuf.UInt64Value.$Shape): google.protobuf.UInt64Value & google.protobuf.UInt64Value.$Shape;
             *   (properties?: google.protobuf.UInt64Value.$Properties): google.protobuf.UInt64Value;
             * }}
             */
            UInt64Value.create = function(properties) {
                return new UInt64Value(properties);
            };

            /**
             * Encodes the specified UInt64Value message. Does not implicitly {@link google.protobuf.UInt64Value.verify|verify} messages.
             * @function encode
             * @memberof google.protobuf.UInt64Value
             * @static
             * @param {google.protobuf.UInt64Value.$Properties} message UInt64Value message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            UInt64Value.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.value != null && $Object.hasOwnProperty.call(message, "value") && (typeof message.value === "object" ? message.value.low || message.value.high : message.value !== 0))
                    writer.uint32(/* id 1, wireType 0 =*/8).uint64(message.value);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes a UInt64Value message from the specified reader or buffer.
             * @function decode
             * @memberof google.protobuf.UInt64Value
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {google.protobuf.UInt64Value & google.protobuf.UInt64Value.$Shape} UInt64Value
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            UInt64Value.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.google.protobuf.UInt64Value();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 0)
                                break;
                            if (typeof (value = reader.uint64()) === "object" ? value.low || value.high : value !== 0)
                                message.value = value;
                            else
                                delete message.value;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Gets the type url for UInt64Value
             * @function getTypeUrl
             * @memberof google.protobuf.UInt64Value
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            UInt64Value.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/google.protobuf.UInt64Value";
            };

            return UInt64Value;
        })();

        protobuf.Int32Value = (function() {

            /**
             * Properties of an Int32Value.
             * @typedef {Object} google.protobuf.Int32Value.$Properties
             * @property {number|null} [value] Int32Value value
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of an Int32Value.
             * @memberof google.protobuf
             * @interface IInt32Value
             * @augments google.protobuf.Int32Value.$Properties
             * @deprecated Use google.protobuf.Int32Value.$Properties instead.
             */

            /**
             * Shape of an Int32Value.
             * @typedef {google.protobuf.Int32Value.$Properties} google.protobuf.Int32Value.$Shape
             */

            /**
             * Constructs a new Int32Value.
             * @memberof google.protobuf
             * @classdesc Represents an Int32Value.
             * @constructor
             * @param {google.protobuf.Int32Value.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const Int32Value = function (properties) {
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * Int32Value value.
             * @member {number} value
             * @memberof google.protobuf.Int32Value
             * @instance
             */
            Int32Value.prototype.value = 0;

            /**
             * Creates a new Int32Value instance using the specified properties.
             * @function create
             * @memberof google.protobuf.Int32Value
             * @static
             * @param {google.protobuf.Int32Value.$Properties=} [properties] Properties to set
             * @returns {google.protobuf.Int32Value} Int32Value instance
             * @type {{
             *   (properties: google.protobuf.Int32Value.$Shape): google.protobuf.Int32Value & google.protobuf.Int32Value.$Shape;
             *   (properties?: google.protobuf.Int32Value.$Properties): google.protobuf.Int32Value;
             * }}
             */
            Int32Value.create = function(properties) {
                return new Int32Value(properties);
            };

            /**
             * Encodes the specified Int32Value message. Does not implicitly {@link google.protobuf.Int32Value.verify|verify} messages.
             * @function encode
             * @memberof google.protobuf.Int32Value
             * @static
             * @param {google.protobuf.Int32Value.$Properties} message Int32Value message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            Int32Value.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.value != null && $Object.hasOwnProperty.call(message, "value") && message.value !== 0)
                    writer.uint32(/* id 1, wireType 0 =*/8).int32(message.value);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes an Int32Value message from the specified reader or buffer.
             * @function decode
             * @memberof google.protobuf.Int32Value
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {google.protobuf.Int32Value & google.protobuf.Int32Value.$Shape} Int32Value
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            Int32Value.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.google.protobuf.Int32Value();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.int32())
                                message.value = value;
                            else
                                delete message.value;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Gets the type url for Int32Value
             * @function getTypeUrl
             * @memberof google.protobuf.Int32Value
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            Int32Value.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/google.protobuf.Int32Value";
            };

            return Int32Value;
        })();

        protobuf.UInt32Value = (function() {

            /**
             * Properties of a UInt32Value.
             * @typedef {Object} google.protobuf.UInt32Value.$Properties
             * @property {number|null} [value] UInt32Value value
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a UInt32Value.
             * @memberof google.protobuf
             * @interface IUInt32Value
             * @augments google.protobuf.UInt32Value.$Properties
             * @deprecated Use google.protobuf.UInt32Value.$Properties instead.
             */

            /**
             * Shape of a UInt32Value.
             * @typedef {google.protobuf.UInt32Value.$Properties} google.protobuf.UInt32Value.$Shape
             */

            /**
             * Constructs a new UInt32Value.
             * @memberof google.protobuf
             * @classdesc Represents a UInt32Value.
             * @constructor
             * @param {google.protobuf.UInt32Value.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const UInt32Value = function (properties) {
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * UInt32Value value.
             * @member {number} value
             * @memberof google.protobuf.UInt32Value
             * @instance
             */
            UInt32Value.prototype.value = 0;

            /**
             * Creates a new UInt32Value instance using the specified properties.
             * @function create
             * @memberof google.protobuf.UInt32Value
             * @static
             * @param {google.protobuf.UInt32Value.$Properties=} [properties] Properties to set
             * @returns {google.protobuf.UInt32Value} UInt32Value instance
             * @type {{
             *   (properties: google.protobuf.UInt32Value.$Shape): google.protobuf.UInt32Value & google.protobuf.UInt32Value.$Shape;
             *   (properties?: google.protobuf.UInt32Value.$Properties): google.protobuf.UInt32Value;
             * }}
             */
            UInt32Value.create = function(properties) {
                return new UInt32Value(properties);
            };

            /**
             * Encodes the specified UInt32Value message. Does not implicitly {@link google.protobuf.UInt32Value.verify|verify} messages.
             * @function encode
             * @memberof google.protobuf.UInt32Value
             * @static
             * @param {google.protobuf.UInt32Value.$Properties} message UInt32Value message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            UInt32Value.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.value != null && $Object.hasOwnProperty.call(message, "value") && message.value !== 0)
                    writer.uint32(/* id 1, wireType 0 =*/8).uint32(message.value);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes a UInt32Value message from the specified reader or buffer.
             * @function decode
             * @memberof google.protobuf.UInt32Value
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {google.protobuf.UInt32Value & google.protobuf.UInt32Value.$Shape} UInt32Value
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            UInt32Value.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.google.protobuf.UInt32Value();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.uint32())
                                message.value = value;
                            else
                                delete message.value;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Gets the type url for UInt32Value
             * @function getTypeUrl
             * @memberof google.protobuf.UInt32Value
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            UInt32Value.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/google.protobuf.UInt32Value";
            };

            return UInt32Value;
        })();

        protobuf.BoolValue = (function() {

            /**
             * Properties of a BoolValue.
             * @typedef {Object} google.protobuf.BoolValue.$Properties
             * @property {boolean|null} [value] BoolValue value
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a BoolValue.
             * @memberof google.protobuf
             * @interface IBoolValue
             * @augments google.protobuf.BoolValue.$Properties
             * @deprecated Use google.protobuf.BoolValue.$Properties instead.
             */

            /**
             * Shape of a BoolValue.
             * @typedef {google.protobuf.BoolValue.$Properties} google.protobuf.BoolValue.$Shape
             */

            /**
             * Constructs a new BoolValue.
             * @memberof google.protobuf
             * @classdesc Represents a BoolValue.
             * @constructor
             * @param {google.protobuf.BoolValue.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const BoolValue = function (properties) {
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * BoolValue value.
             * @member {boolean} value
             * @memberof google.protobuf.BoolValue
             * @instance
             */
            BoolValue.prototype.value = false;

            /**
             * Creates a new BoolValue instance using the specified properties.
             * @function create
             * @memberof google.protobuf.BoolValue
             * @static
             * @param {google.protobuf.BoolValue.$Properties=} [properties] Properties to set
             * @returns {google.protobuf.BoolValue} BoolValue instance
             * @type {{
             *   (properties: google.protobuf.BoolValue.$Shape): google.protobuf.BoolValue & google.protobuf.BoolValue.$Shape;
             *   (properties?: google.protobuf.BoolValue.$Properties): google.protobuf.BoolValue;
             * }}
             */
            BoolValue.create = function(properties) {
                return new BoolValue(properties);
            };

            /**
             * Encodes the specified BoolValue message. Does not implicitly {@link google.protobuf.BoolValue.verify|verify} messages.
             * @function encode
             * @memberof google.protobuf.BoolValue
             * @static
             * @param {google.protobuf.BoolValue.$Properties} message BoolValue message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            BoolValue.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.value != null && $Object.hasOwnProperty.call(message, "value") && message.value !== false)
                    writer.uint32(/* id 1, wireType 0 =*/8).bool(message.value);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes a BoolValue message from the specified reader or buffer.
             * @function decode
             * @memberof google.protobuf.BoolValue
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {google.protobuf.BoolValue & google.protobuf.BoolValue.$Shape} BoolValue
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            BoolValue.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.google.protobuf.BoolValue();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.bool())
                                message.value = value;
                            else
                                delete message.value;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Gets the type url for BoolValue
             * @function getTypeUrl
             * @memberof google.protobuf.BoolValue
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            BoolValue.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/google.protobuf.BoolValue";
            };

            return BoolValue;
        })();

        protobuf.StringValue = (function() {

            /**
             * Properties of a StringValue.
             * @typedef {Object} google.protobuf.StringValue.$Properties
             * @property {string|null} [value] StringValue value
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a StringValue.
             * @memberof google.protobuf
             * @interface IStringValue
             * @augments google.protobuf.StringValue.$Properties
             * @deprecated Use google.protobuf.StringValue.$Properties instead.
             */

            /**
             * Shape of a StringValue.
             * @typedef {google.protobuf.StringValue.$Properties} google.protobuf.StringValue.$Shape
             */

            /**
             * Constructs a new StringValue.
             * @memberof google.protobuf
             * @classdesc Represents a StringValue.
             * @constructor
             * @param {google.protobuf.StringValue.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const StringValue = function (properties) {
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * StringValue value.
             * @member {string} value
             * @memberof google.protobuf.StringValue
             * @instance
             */
            StringValue.prototype.value = "";

            /**
             * Creates a new StringValue instance using the specified properties.
             * @function create
             * @memberof google.protobuf.StringValue
             * @static
             * @param {google.protobuf.StringValue.$Properties=} [properties] Properties to set
             * @returns {google.protobuf.StringValue} StringValue instance
             * @type {{
             *   (properties: google.protobuf.StringValue.$Shape): google.protobuf.StringValue & google.protobuf.StringValue.$Shape;
             *   (properties?: google.protobuf.StringValue.$Properties): google.protobuf.StringValue;
             * }}
             */
            StringValue.create = function(properties) {
                return new StringValue(properties);
            };

            /**
             * Encodes the specified StringValue message. Does not implicitly {@link google.protobuf.StringValue.verify|verify} messages.
             * @function encode
             * @memberof google.protobuf.StringValue
             * @static
             * @param {google.protobuf.StringValue.$Properties} message StringValue message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            StringValue.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.value != null && $Object.hasOwnProperty.call(message, "value") && message.value !== "")
                    writer.uint32(/* id 1, wireType 2 =*/10).string(message.value);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes a StringValue message from the specified reader or buffer.
             * @function decode
             * @memberof google.protobuf.StringValue
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {google.protobuf.StringValue & google.protobuf.StringValue.$Shape} StringValue
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            StringValue.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.google.protobuf.StringValue();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.value = value;
                            else
                                delete message.value;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Gets the type url for StringValue
             * @function getTypeUrl
             * @memberof google.protobuf.StringValue
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            StringValue.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/google.protobuf.StringValue";
            };

            return StringValue;
        })();

        protobuf.BytesValue = (function() {

            /**
             * Properties of a BytesValue.
             * @typedef {Object} google.protobuf.BytesValue.$Properties
             * @property {Uint8Array|null} [value] BytesValue value
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a BytesValue.
             * @memberof google.protobuf
             * @interface IBytesValue
             * @augments google.protobuf.BytesValue.$Properties
             * @deprecated Use google.protobuf.BytesValue.$Properties instead.
             */

            /**
             * Shape of a BytesValue.
             * @typedef {google.protobuf.BytesValue.$Properties} google.protobuf.BytesValue.$Shape
             */

            /**
             * Constructs a new BytesValue.
             * @memberof google.protobuf
             * @classdesc Represents a BytesValue.
             * @constructor
             * @param {google.protobuf.BytesValue.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const BytesValue = function (properties) {
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * BytesValue value.
             * @member {Uint8Array} value
             * @memberof google.protobuf.BytesValue
             * @instance
             */
            BytesValue.prototype.value = $util.newBuffer([]);

            /**
             * Creates a new BytesValue instance using the specified properties.
             * @function create
             * @memberof google.protobuf.BytesValue
             * @static
             * @param {google.protobuf.BytesValue.$Properties=} [properties] Properties to set
             * @returns {google.protobuf.BytesValue} BytesValue instance
             * @type {{
             *   (properties: google.protobuf.BytesValue.$Shape): google.protobuf.BytesValue & google.protobuf.BytesValue.$Shape;
             *   (properties?: google.protobuf.BytesValue.$Properties): google.protobuf.BytesValue;
             * }}
             */
            BytesValue.create = function(properties) {
                return new BytesValue(properties);
            };

            /**
             * Encodes the specified BytesValue message. Does not implicitly {@link google.protobuf.BytesValue.verify|verify} messages.
             * @function encode
             * @memberof google.protobuf.BytesValue
             * @static
             * @param {google.protobuf.BytesValue.$Properties} message BytesValue message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            BytesValue.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.value != null && $Object.hasOwnProperty.call(message, "value") && message.value.length)
                    writer.uint32(/* id 1, wireType 2 =*/10).bytes(message.value);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes a BytesValue message from the specified reader or buffer.
             * @function decode
             * @memberof google.protobuf.BytesValue
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {google.protobuf.BytesValue & google.protobuf.BytesValue.$Shape} BytesValue
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            BytesValue.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.google.protobuf.BytesValue();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.bytes()).length)
                                message.value = value;
                            else
                                delete message.value;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Gets the type url for BytesValue
             * @function getTypeUrl
             * @memberof google.protobuf.BytesValue
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            BytesValue.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/google.protobuf.BytesValue";
            };

            return BytesValue;
        })();

        return protobuf;
    })();

    google.rpc = (function() {

        /**
         * Namespace rpc.
         * @memberof google
         * @namespace
         */
        const rpc = {};

        rpc.Status = (function() {

            /**
             * Properties of a Status.
             * @typedef {Object} google.rpc.Status.$Properties
             * @property {number|null} [code] Status code
             * @property {string|null} [message] Status message
             * @property {Array.<google.protobuf.Any.$Properties>|null} [details] Status details
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a Status.
             * @memberof google.rpc
             * @interface IStatus
             * @augments google.rpc.Status.$Properties
             * @deprecated Use google.rpc.Status.$Properties instead.
             */

            /**
             * Shape of a Status.
             * @typedef {google.rpc.Status.$Properties} google.rpc.Status.$Shape
             */

            /**
             * Constructs a new Status.
             * @memberof google.rpc
             * @classdesc Represents a Status.
             * @constructor
             * @param {google.rpc.Status.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const Status = function (properties) {
                this.details = [];
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * Status code.
             * @member {number} code
             * @memberof google.rpc.Status
             * @instance
             */
            Status.prototype.code = 0;

            /**
             * Status message.
             * @member {string} message
             * @memberof google.rpc.Status
             * @instance
             */
            Status.prototype.message = "";

            /**
             * Status details.
             * @member {Array.<google.protobuf.Any.$Properties>} details
             * @memberof google.rpc.Status
             * @instance
             */
            Status.prototype.details = $util.emptyArray;

            /**
             * Creates a new Status instance using the specified properties.
             * @function create
             * @memberof google.rpc.Status
             * @static
             * @param {google.rpc.Status.$Properties=} [properties] Properties to set
             * @returns {google.rpc.Status} Status instance
             * @type {{
             *   (properties: google.rpc.Status.$Shape): google.rpc.Status & google.rpc.Status.$Shape;
             *   (properties?: google.rpc.Status.$Properties): google.rpc.Status;
             * }}
             */
            Status.create = function(properties) {
                return new Status(properties);
            };

            /**
             * Encodes the specified Status message. Does not implicitly {@link google.rpc.Status.verify|verify} messages.
             * @function encode
             * @memberof google.rpc.Status
             * @static
             * @param {google.rpc.Status.$Properties} message Status message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            Status.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.code != null && $Object.hasOwnProperty.call(message, "code") && message.code !== 0)
                    writer.uint32(/* id 1, wireType 0 =*/8).int32(message.code);
                if (message.message != null && $Object.hasOwnProperty.call(message, "message") && message.message !== "")
                    writer.uint32(/* id 2, wireType 2 =*/18).string(message.message);
                if (message.details != null && message.details.length)
                    for (let i = 0; i < message.details.length; ++i)
                        $root.google.protobuf.Any.encode(message.details[i], writer.uint32(/* id 3, wireType 2 =*/26).fork(), _depth + 1).ldelim();
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes a Status message from the specified reader or buffer.
             * @function decode
             * @memberof google.rpc.Status
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {google.rpc.Status & google.rpc.Status.$Shape} Status
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            Status.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.google.rpc.Status();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.int32())
                                message.code = value;
                            else
                                delete message.code;
                            continue;
                        }
                    case 2: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.message = value;
                            else
                                delete message.message;
                            continue;
                        }
                    case 3: {
                            if (wireType !== 2)
                                break;
                            if (!(message.details && message.details.length))
                                message.details = [];
                            message.details.push($root.google.protobuf.Any.decode(reader, reader.size(), $undefined, _depth + 1));
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Gets the type url for Status
             * @function getTypeUrl
             * @memberof google.rpc.Status
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            Status.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/google.rpc.Status";
            };

            return Status;
        })();

        return rpc;
    })();

    return google;
})();

export const istio = $root.istio = (() => {

    /**
     * Namespace istio.
     * @exports istio
     * @namespace
     */
    const istio = {};

    istio.security = (function() {

        /**
         * Namespace security.
         * @memberof istio
         * @namespace
         */
        const security = {};

        security.Authorization = (function() {

            /**
             * Properties of an Authorization.
             * @typedef {Object} istio.security.Authorization.$Properties
             * @property {string|null} [name] Authorization name
             * @property {string|null} [namespace] Authorization namespace
             * @property {istio.security.Scope|null} [scope] Authorization scope
             * @property {istio.security.Action|null} [action] Authorization action
             * @property {Array.<istio.security.Rule.$Properties>|null} [rules] Authorization rules
             * @property {boolean|null} [dryRun] Authorization dryRun
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of an Authorization.
             * @memberof istio.security
             * @interface IAuthorization
             * @augments istio.security.Authorization.$Properties
             * @deprecated Use istio.security.Authorization.$Properties instead.
             */

            /**
             * Shape of an Authorization.
             * @typedef {{
             *   name?: string|null;
             *   namespace?: string|null;
             *   scope?: istio.security.Scope|null;
             *   action?: istio.security.Action|null;
             *   rules?: Array.<istio.security.Rule.$Shape>|null;
             *   dryRun?: boolean|null;
             *   $unknowns?: Array.<Uint8Array>;
             * }} istio.security.Authorization.$Shape
             */

            /**
             * Constructs a new Authorization.
             * @memberof istio.security
             * @classdesc Represents an Authorization.
             * @constructor
             * @param {istio.security.Authorization.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const Authorization = function (properties) {
                this.rules = [];
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * Authorization name.
             * @member {string} name
             * @memberof istio.security.Authorization
             * @instance
             */
            Authorization.prototype.name = "";

            /**
             * Authorization namespace.
             * @member {string} namespace
             * @memberof istio.security.Authorization
             * @instance
             */
            Authorization.prototype.namespace = "";

            /**
             * Authorization scope.
             * @member {istio.security.Scope} scope
             * @memberof istio.security.Authorization
             * @instance
             */
            Authorization.prototype.scope = 0;

            /**
             * Authorization action.
             * @member {istio.security.Action} action
             * @memberof istio.security.Authorization
             * @instance
             */
            Authorization.prototype.action = 0;

            /**
             * Authorization rules.
             * @member {Array.<istio.security.Rule.$Properties>} rules
             * @memberof istio.security.Authorization
             * @instance
             */
            Authorization.prototype.rules = $util.emptyArray;

            /**
             * Authorization dryRun.
             * @member {boolean} dryRun
             * @memberof istio.security.Authorization
             * @instance
             */
            Authorization.prototype.dryRun = false;

            /**
             * Creates a new Authorization instance using the specified properties.
             * @function create
             * @memberof istio.security.Authorization
             * @static
             * @param {istio.security.Authorization.$Properties=} [properties] Properties to set
             * @returns {istio.security.Authorization} Authorization instance
             * @type {{
             *   (properties: istio.security.Authorization.$Shape): istio.security.Authorization & istio.security.Authorization.$Shape;
             *   (properties?: istio.security.Authorization.$Properties): istio.security.Authorization;
             * }}
             */
            Authorization.create = function(properties) {
                return new Authorization(properties);
            };

            /**
             * Encodes the specified Authorization message. Does not implicitly {@link istio.security.Authorization.verify|verify} messages.
             * @function encode
             * @memberof istio.security.Authorization
             * @static
             * @param {istio.security.Authorization.$Properties} message Authorization message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            Authorization.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.name != null && $Object.hasOwnProperty.call(message, "name") && message.name !== "")
                    writer.uint32(/* id 1, wireType 2 =*/10).string(message.name);
                if (message.namespace != null && $Object.hasOwnProperty.call(message, "namespace") && message.namespace !== "")
                    writer.uint32(/* id 2, wireType 2 =*/18).string(message.namespace);
                if (message.scope != null && $Object.hasOwnProperty.call(message, "scope") && message.scope !== 0)
                    writer.uint32(/* id 3, wireType 0 =*/24).int32(message.scope);
                if (message.action != null && $Object.hasOwnProperty.call(message, "action") && message.action !== 0)
                    writer.uint32(/* id 4, wireType 0 =*/32).int32(message.action);
                if (message.rules != null && message.rules.length)
                    for (let i = 0; i < message.rules.length; ++i)
                        $root.istio.security.Rule.encode(message.rules[i], writer.uint32(/* id 5, wireType 2 =*/42).fork(), _depth + 1).ldelim();
                if (message.dryRun != null && $Object.hasOwnProperty.call(message, "dryRun") && message.dryRun !== false)
                    writer.uint32(/* id 6, wireType 0 =*/48).bool(message.dryRun);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes an Authorization message from the specified reader or buffer.
             * @function decode
             * @memberof istio.security.Authorization
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {istio.security.Authorization & istio.security.Authorization.$Shape} Authorization
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            Authorization.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.istio.security.Authorization();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.name = value;
                            else
                                delete message.name;
                            continue;
                        }
                    case 2: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.namespace = value;
                            else
                                delete message.namespace;
                            continue;
                        }
                    case 3: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.int32())
                                message.scope = value;
                            else
                                delete message.scope;
                            continue;
                        }
                    case 4: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.int32())
                                message.action = value;
                            else
                                delete message.action;
                            continue;
                        }
                    case 5: {
                            if (wireType !== 2)
                                break;
                            if (!(message.rules && message.rules.length))
                                message.rules = [];
                            message.rules.push($root.istio.security.Rule.decode(reader, reader.size(), $undefined, _depth + 1));
                            continue;
                        }
                    case 6: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.bool())
                                message.dryRun = value;
                            else
                                delete message.dryRun;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Gets the type url for Authorization
             * @function getTypeUrl
             * @memberof istio.security.Authorization
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            Authorization.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/istio.security.Authorization";
            };

            return Authorization;
        })();

        security.Rule = (function() {

            /**
             * Properties of a Rule.
             * @typedef {Object} istio.security.Rule.$Properties
             * @property {Array.<istio.security.Clause.$Properties>|null} [clauses] Rule clauses
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a Rule.
             * @memberof istio.security
             * @interface IRule
             * @augments istio.security.Rule.$Properties
             * @deprecated Use istio.security.Rule.$Properties instead.
             */

            /**
             * Shape of a Rule.
             * @typedef {{
             *   clauses?: Array.<istio.security.Clause.$Shape>|null;
             *   $unknowns?: Array.<Uint8Array>;
             * }} istio.security.Rule.$Shape
             */

            /**
             * Constructs a new Rule.
             * @memberof istio.security
             * @classdesc Represents a Rule.
             * @constructor
             * @param {istio.security.Rule.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const Rule = function (properties) {
                this.clauses = [];
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * Rule clauses.
             * @member {Array.<istio.security.Clause.$Properties>} clauses
             * @memberof istio.security.Rule
             * @instance
             */
            Rule.prototype.clauses = $util.emptyArray;

            /**
             * Creates a new Rule instance using the specified properties.
             * @function create
             * @memberof istio.security.Rule
             * @static
             * @param {istio.security.Rule.$Properties=} [properties] Properties to set
             * @returns {istio.security.Rule} Rule instance
             * @type {{
             *   (properties: istio.security.Rule.$Shape): istio.security.Rule & istio.security.Rule.$Shape;
             *   (properties?: istio.security.Rule.$Properties): istio.security.Rule;
             * }}
             */
            Rule.create = function(properties) {
                return new Rule(properties);
            };

            /**
             * Encodes the specified Rule message. Does not implicitly {@link istio.security.Rule.verify|verify} messages.
             * @function encode
             * @memberof istio.security.Rule
             * @static
             * @param {istio.security.Rule.$Properties} message Rule message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            Rule.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.clauses != null && message.clauses.length)
                    for (let i = 0; i < message.clauses.length; ++i)
                        $root.istio.security.Clause.encode(message.clauses[i], writer.uint32(/* id 1, wireType 2 =*/10).fork(), _depth + 1).ldelim();
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes a Rule message from the specified reader or buffer.
             * @function decode
             * @memberof istio.security.Rule
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {istio.security.Rule & istio.security.Rule.$Shape} Rule
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            Rule.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.istio.security.Rule();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            if (!(message.clauses && message.clauses.length))
                                message.clauses = [];
                            message.clauses.push($root.istio.security.Clause.decode(reader, reader.size(), $undefined, _depth + 1));
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Gets the type url for Rule
             * @function getTypeUrl
             * @memberof istio.security.Rule
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            Rule.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/istio.security.Rule";
            };

            return Rule;
        })();

        security.Clause = (function() {

            /**
             * Properties of a Clause.
             * @typedef {Object} istio.security.Clause.$Properties
             * @property {Array.<istio.security.Match.$Properties>|null} [matches] Clause matches
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a Clause.
             * @memberof istio.security
             * @interface IClause
             * @augments istio.security.Clause.$Properties
             * @deprecated Use istio.security.Clause.$Properties instead.
             */

            /**
             * Shape of a Clause.
             * @typedef {{
             *   matches?: Array.<istio.security.Match.$Shape>|null;
             *   $unknowns?: Array.<Uint8Array>;
             * }} istio.security.Clause.$Shape
             */

            /**
             * Constructs a new Clause.
             * @memberof istio.security
             * @classdesc Represents a Clause.
             * @constructor
             * @param {istio.security.Clause.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const Clause = function (properties) {
                this.matches = [];
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * Clause matches.
             * @member {Array.<istio.security.Match.$Properties>} matches
             * @memberof istio.security.Clause
             * @instance
             */
            Clause.prototype.matches = $util.emptyArray;

            /**
             * Creates a new Clause instance using the specified properties.
             * @function create
             * @memberof istio.security.Clause
             * @static
             * @param {istio.security.Clause.$Properties=} [properties] Properties to set
             * @returns {istio.security.Clause} Clause instance
             * @type {{
             *   (properties: istio.security.Clause.$Shape): istio.security.Clause & istio.security.Clause.$Shape;
             *   (properties?: istio.security.Clause.$Properties): istio.security.Clause;
             * }}
             */
            Clause.create = function(properties) {
                return new Clause(properties);
            };

            /**
             * Encodes the specified Clause message. Does not implicitly {@link istio.security.Clause.verify|verify} messages.
             * @function encode
             * @memberof istio.security.Clause
             * @static
             * @param {istio.security.Clause.$Properties} message Clause message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            Clause.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.matches != null && message.matches.length)
                    for (let i = 0; i < message.matches.length; ++i)
                        $root.istio.security.Match.encode(message.matches[i], writer.uint32(/* id 2, wireType 2 =*/18).fork(), _depth + 1).ldelim();
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes a Clause message from the specified reader or buffer.
             * @function decode
             * @memberof istio.security.Clause
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {istio.security.Clause & istio.security.Clause.$Shape} Clause
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            Clause.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.istio.security.Clause();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 2: {
                            if (wireType !== 2)
                                break;
                            if (!(message.matches && message.matches.length))
                                message.matches = [];
                            message.matches.push($root.istio.security.Match.decode(reader, reader.size(), $undefined, _depth + 1));
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Gets the type url for Clause
             * @function getTypeUrl
             * @memberof istio.security.Clause
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            Clause.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/istio.security.Clause";
            };

            return Clause;
        })();

        security.Match = (function() {

            /**
             * Properties of a Match.
             * @typedef {Object} istio.security.Match.$Properties
             * @property {Array.<istio.security.StringMatch.$Properties>|null} [namespaces] Match namespaces
             * @property {Array.<istio.security.StringMatch.$Properties>|null} [notNamespaces] Match notNamespaces
             * @property {Array.<istio.security.StringMatch.$Properties>|null} [principals] Match principals
             * @property {Array.<istio.security.StringMatch.$Properties>|null} [notPrincipals] Match notPrincipals
             * @property {Array.<istio.security.Address.$Properties>|null} [sourceIps] Match sourceIps
             * @property {Array.<istio.security.Address.$Properties>|null} [notSourceIps] Match notSourceIps
             * @property {Array.<istio.security.Address.$Properties>|null} [destinationIps] Match destinationIps
             * @property {Array.<istio.security.Address.$Properties>|null} [notDestinationIps] Match notDestinationIps
             * @property {Array.<number>|null} [destinationPorts] Match destinationPorts
             * @property {Array.<number>|null} [notDestinationPorts] Match notDestinationPorts
             * @property {Array.<istio.security.ServiceAccountMatch.$Properties>|null} [serviceAccounts] Match serviceAccounts
             * @property {Array.<istio.security.ServiceAccountMatch.$Properties>|null} [notServiceAccounts] Match notServiceAccounts
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a Match.
             * @memberof istio.security
             * @interface IMatch
             * @augments istio.security.Match.$Properties
             * @deprecated Use istio.security.Match.$Properties instead.
             */

            /**
             * Shape of a Match.
             * @typedef {{
             *   namespaces?: Array.<istio.security.StringMatch.$Shape>|null;
             *   notNamespaces?: Array.<istio.security.StringMatch.$Shape>|null;
             *   principals?: Array.<istio.security.StringMatch.$Shape>|null;
             *   notPrincipals?: Array.<istio.security.StringMatch.$Shape>|null;
             *   sourceIps?: Array.<istio.security.Address.$Shape>|null;
             *   notSourceIps?: Array.<istio.security.Address.$Shape>|null;
             *   destinationIps?: Array.<istio.security.Address.$Shape>|null;
             *   notDestinationIps?: Array.<istio.security.Address.$Shape>|null;
             *   destinationPorts?: Array.<number>|null;
             *   notDestinationPorts?: Array.<number>|null;
             *   serviceAccounts?: Array.<istio.security.ServiceAccountMatch.$Shape>|null;
             *   notServiceAccounts?: Array.<istio.security.ServiceAccountMatch.$Shape>|null;
             *   $unknowns?: Array.<Uint8Array>;
             * }} istio.security.Match.$Shape
             */

            /**
             * Constructs a new Match.
             * @memberof istio.security
             * @classdesc Represents a Match.
             * @constructor
             * @param {istio.security.Match.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const Match = function (properties) {
                this.namespaces = [];
                this.notNamespaces = [];
                this.principals = [];
                this.notPrincipals = [];
                this.sourceIps = [];
                this.notSourceIps = [];
                this.destinationIps = [];
                this.notDestinationIps = [];
                this.destinationPorts = [];
                this.notDestinationPorts = [];
                this.serviceAccounts = [];
                this.notServiceAccounts = [];
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * Match namespaces.
             * @member {Array.<istio.security.StringMatch.$Properties>} namespaces
             * @memberof istio.security.Match
             * @instance
             */
            Match.prototype.namespaces = $util.emptyArray;

            /**
             * Match notNamespaces.
             * @member {Array.<istio.security.StringMatch.$Properties>} notNamespaces
             * @memberof istio.security.Match
             * @instance
             */
            Match.prototype.notNamespaces = $util.emptyArray;

            /**
             * Match principals.
             * @member {Array.<istio.security.StringMatch.$Properties>} principals
             * @memberof istio.security.Match
             * @instance
             */
            Match.prototype.principals = $util.emptyArray;

            /**
             * Match notPrincipals.
             * @member {Array.<istio.security.StringMatch.$Properties>} notPrincipals
             * @memberof istio.security.Match
             * @instance
             */
            Match.prototype.notPrincipals = $util.emptyArray;

            /**
             * Match sourceIps.
             * @member {Array.<istio.security.Address.$Properties>} sourceIps
             * @memberof istio.security.Match
             * @instance
             */
            Match.prototype.sourceIps = $util.emptyArray;

            /**
             * Match notSourceIps.
             * @member {Array.<istio.security.Address.$Properties>} notSourceIps
             * @memberof istio.security.Match
             * @instance
             */
            Match.prototype.notSourceIps = $util.emptyArray;

            /**
             * Match destinationIps.
             * @member {Array.<istio.security.Address.$Properties>} destinationIps
             * @memberof istio.security.Match
             * @instance
             */
            Match.prototype.destinationIps = $util.emptyArray;

            /**
             * Match notDestinationIps.
             * @member {Array.<istio.security.Address.$Properties>} notDestinationIps
             * @memberof istio.security.Match
             * @instance
             */
            Match.prototype.notDestinationIps = $util.emptyArray;

            /**
             * Match destinationPorts.
             * @member {Array.<number>} destinationPorts
             * @memberof istio.security.Match
             * @instance
             */
            Match.prototype.destinationPorts = $util.emptyArray;

            /**
             * Match notDestinationPorts.
             * @member {Array.<number>} notDestinationPorts
             * @memberof istio.security.Match
             * @instance
             */
            Match.prototype.notDestinationPorts = $util.emptyArray;

            /**
             * Match serviceAccounts.
             * @member {Array.<istio.security.ServiceAccountMatch.$Properties>} serviceAccounts
             * @memberof istio.security.Match
             * @instance
             */
            Match.prototype.serviceAccounts = $util.emptyArray;

            /**
             * Match notServiceAccounts.
             * @member {Array.<istio.security.ServiceAccountMatch.$Properties>} notServiceAccounts
             * @memberof istio.security.Match
             * @instance
             */
            Match.prototype.notServiceAccounts = $util.emptyArray;

            /**
             * Creates a new Match instance using the specified properties.
             * @function create
             * @memberof istio.security.Match
             * @static
             * @param {istio.security.Match.$Properties=} [properties] Properties to set
             * @returns {istio.security.Match} Match instance
             * @type {{
             *   (properties: istio.security.Match.$Shape): istio.security.Match & istio.security.Match.$Shape;
             *   (properties?: istio.security.Match.$Properties): istio.security.Match;
             * }}
             */
            Match.create = function(properties) {
                return new Match(properties);
            };

            /**
             * Encodes the specified Match message. Does not implicitly {@link istio.security.Match.verify|verify} messages.
             * @function encode
             * @memberof istio.security.Match
             * @static
             * @param {istio.security.Match.$Properties} message Match message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            Match.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.namespaces != null && message.namespaces.length)
                    for (let i = 0; i < message.namespaces.length; ++i)
                        $root.istio.security.StringMatch.encode(message.namespaces[i], writer.uint32(/* id 1, wireType 2 =*/10).fork(), _depth + 1).ldelim();
                if (message.notNamespaces != null && message.notNamespaces.length)
                    for (let i = 0; i < message.notNamespaces.length; ++i)
                        $root.istio.security.StringMatch.encode(message.notNamespaces[i], writer.uint32(/* id 2, wireType 2 =*/18).fork(), _depth + 1).ldelim();
                if (message.principals != null && message.principals.length)
                    for (let i = 0; i < message.principals.length; ++i)
                        $root.istio.security.StringMatch.encode(message.principals[i], writer.uint32(/* id 3, wireType 2 =*/26).fork(), _depth + 1).ldelim();
                if (message.notPrincipals != null && message.notPrincipals.length)
                    for (let i = 0; i < message.notPrincipals.length; ++i)
                        $root.istio.security.StringMatch.encode(message.notPrincipals[i], writer.uint32(/* id 4, wireType 2 =*/34).fork(), _depth + 1).ldelim();
                if (message.sourceIps != null && message.sourceIps.length)
                    for (let i = 0; i < message.sourceIps.length; ++i)
                        $root.istio.security.Address.encode(message.sourceIps[i], writer.uint32(/* id 5, wireType 2 =*/42).fork(), _depth + 1).ldelim();
                if (message.notSourceIps != null && message.notSourceIps.length)
                    for (let i = 0; i < message.notSourceIps.length; ++i)
                        $root.istio.security.Address.encode(message.notSourceIps[i], writer.uint32(/* id 6, wireType 2 =*/50).fork(), _depth + 1).ldelim();
                if (message.destinationIps != null && message.destinationIps.length)
                    for (let i = 0; i < message.destinationIps.length; ++i)
                        $root.istio.security.Address.encode(message.destinationIps[i], writer.uint32(/* id 7, wireType 2 =*/58).fork(), _depth + 1).ldelim();
                if (message.notDestinationIps != null && message.notDestinationIps.length)
                    for (let i = 0; i < message.notDestinationIps.length; ++i)
                        $root.istio.security.Address.encode(message.notDestinationIps[i], writer.uint32(/* id 8, wireType 2 =*/66).fork(), _depth + 1).ldelim();
                if (message.destinationPorts != null && message.destinationPorts.length)
                    writer.uint32(/* id 9, wireType 2 =*/74).uint32s(message.destinationPorts);
                if (message.notDestinationPorts != null && message.notDestinationPorts.length)
                    writer.uint32(/* id 10, wireType 2 =*/82).uint32s(message.notDestinationPorts);
                if (message.serviceAccounts != null && message.serviceAccounts.length)
                    for (let i = 0; i < message.serviceAccounts.length; ++i)
                        $root.istio.security.ServiceAccountMatch.encode(message.serviceAccounts[i], writer.uint32(/* id 11, wireType 2 =*/90).fork(), _depth + 1).ldelim();
                if (message.notServiceAccounts != null && message.notServiceAccounts.length)
                    for (let i = 0; i < message.notServiceAccounts.length; ++i)
                        $root.istio.security.ServiceAccountMatch.encode(message.notServiceAccounts[i], writer.uint32(/* id 12, wireType 2 =*/98).fork(), _depth + 1).ldelim();
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes a Match message from the specified reader or buffer.
             * @function decode
             * @memberof istio.security.Match
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {istio.security.Match & istio.security.Match.$Shape} Match
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            Match.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.istio.security.Match();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            if (!(message.namespaces && message.namespaces.length))
                                message.namespaces = [];
                            message.namespaces.push($root.istio.security.StringMatch.decode(reader, reader.size(), $undefined, _depth + 1));
                            continue;
                        }
                    case 2: {
                            if (wireType !== 2)
                                break;
                            if (!(message.notNamespaces && message.notNamespaces.length))
                                message.notNamespaces = [];
                            message.notNamespaces.push($root.istio.security.StringMatch.decode(reader, reader.size(), $undefined, _depth + 1));
                            continue;
                        }
                    case 3: {
                            if (wireType !== 2)
                                break;
                            if (!(message.principals && message.principals.length))
                                message.principals = [];
                            message.principals.push($root.istio.security.StringMatch.decode(reader, reader.size(), $undefined, _depth + 1));
                            continue;
                        }
                    case 4: {
                            if (wireType !== 2)
                                break;
                            if (!(message.notPrincipals && message.notPrincipals.length))
                                message.notPrincipals = [];
                            message.notPrincipals.push($root.istio.security.StringMatch.decode(reader, reader.size(), $undefined, _depth + 1));
                            continue;
                        }
                    case 5: {
                            if (wireType !== 2)
                                break;
                            if (!(message.sourceIps && message.sourceIps.length))
                                message.sourceIps = [];
                            message.sourceIps.push($root.istio.security.Address.decode(reader, reader.size(), $undefined, _depth + 1));
                            continue;
                        }
                    case 6: {
                            if (wireType !== 2)
                                break;
                            if (!(message.notSourceIps && message.notSourceIps.length))
                                message.notSourceIps = [];
                            message.notSourceIps.push($root.istio.security.Address.decode(reader, reader.size(), $undefined, _depth + 1));
                            continue;
                        }
                    case 7: {
                            if (wireType !== 2)
                                break;
                            if (!(message.destinationIps && message.destinationIps.length))
                                message.destinationIps = [];
                            message.destinationIps.push($root.istio.security.Address.decode(reader, reader.size(), $undefined, _depth + 1));
                            continue;
                        }
                    case 8: {
                            if (wireType !== 2)
                                break;
                            if (!(message.notDestinationIps && message.notDestinationIps.length))
                                message.notDestinationIps = [];
                            message.notDestinationIps.push($root.istio.security.Address.decode(reader, reader.size(), $undefined, _depth + 1));
                            continue;
                        }
                    case 9: {
                            if (wireType === 2) {
                                if (!(message.destinationPorts && message.destinationPorts.length))
                                    message.destinationPorts = [];
                                reader.uint32s(message.destinationPorts);
                                continue;
                            }
                            if (wireType !== 0)
                                break;
                            if (!(message.destinationPorts && message.destinationPorts.length))
                                message.destinationPorts = [];
                            message.destinationPorts.push(reader.uint32());
                            continue;
                        }
                    case 10: {
                            if (wireType === 2) {
                                if (!(message.notDestinationPorts && message.notDestinationPorts.length))
                                    message.notDestinationPorts = [];
                                reader.uint32s(message.notDestinationPorts);
                                continue;
                            }
                            if (wireType !== 0)
                                break;
                            if (!(message.notDestinationPorts && message.notDestinationPorts.length))
                                message.notDestinationPorts = [];
                            message.notDestinationPorts.push(reader.uint32());
                            continue;
                        }
                    case 11: {
                            if (wireType !== 2)
                                break;
                            if (!(message.serviceAccounts && message.serviceAccounts.length))
                                message.serviceAccounts = [];
                            message.serviceAccounts.push($root.istio.security.ServiceAccountMatch.decode(reader, reader.size(), $undefined, _depth + 1));
                            continue;
                        }
                    case 12: {
                            if (wireType !== 2)
                                break;
                            if (!(message.notServiceAccounts && message.notServiceAccounts.length))
                                message.notServiceAccounts = [];
                            message.notServiceAccounts.push($root.istio.security.ServiceAccountMatch.decode(reader, reader.size(), $undefined, _depth + 1));
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Gets the type url for Match
             * @function getTypeUrl
             * @memberof istio.security.Match
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            Match.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/istio.security.Match";
            };

            return Match;
        })();

        security.Address = (function() {

            /**
             * Properties of an Address.
             * @typedef {Object} istio.security.Address.$Properties
             * @property {Uint8Array|null} [address] Address address
             * @property {number|null} [length] Address length
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of an Address.
             * @memberof istio.security
             * @interface IAddress
             * @augments istio.security.Address.$Properties
             * @deprecated Use istio.security.Address.$Properties instead.
             */

            /**
             * Shape of an Address.
             * @typedef {istio.security.Address.$Properties} istio.security.Address.$Shape
             */

            /**
             * Constructs a new Address.
             * @memberof istio.security
             * @classdesc Represents an Address.
             * @constructor
             * @param {istio.security.Address.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const Address = function (properties) {
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * Address address.
             * @member {Uint8Array} address
             * @memberof istio.security.Address
             * @instance
             */
            Address.prototype.address = $util.newBuffer([]);

            /**
             * Address length.
             * @member {number} length
             * @memberof istio.security.Address
             * @instance
             */
            Address.prototype.length = 0;

            /**
             * Creates a new Address instance using the specified properties.
             * @function create
             * @memberof istio.security.Address
             * @static
             * @param {istio.security.Address.$Properties=} [properties] Properties to set
             * @returns {istio.security.Address} Address instance
             * @type {{
             *   (properties: istio.security.Address.$Shape): istio.security.Address & istio.security.Address.$Shape;
             *   (properties?: istio.security.Address.$Properties): istio.security.Address;
             * }}
             */
            Address.create = function(properties) {
                return new Address(properties);
            };

            /**
             * Encodes the specified Address message. Does not implicitly {@link istio.security.Address.verify|verify} messages.
             * @function encode
             * @memberof istio.security.Address
             * @static
             * @param {istio.security.Address.$Properties} message Address message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            Address.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.address != null && $Object.hasOwnProperty.call(message, "address") && message.address.length)
                    writer.uint32(/* id 1, wireType 2 =*/10).bytes(message.address);
                if (message.length != null && $Object.hasOwnProperty.call(message, "length") && message.length !== 0)
                    writer.uint32(/* id 2, wireType 0 =*/16).uint32(message.length);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes an Address message from the specified reader or buffer.
             * @function decode
             * @memberof istio.security.Address
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {istio.security.Address & istio.security.Address.$Shape} Address
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            Address.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.istio.security.Address();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.bytes()).length)
                                message.address = value;
                            else
                                delete message.address;
                            continue;
                        }
                    case 2: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.uint32())
                                message.length = value;
                            else
                                delete message.length;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Gets the type url for Address
             * @function getTypeUrl
             * @memberof istio.security.Address
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            Address.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/istio.security.Address";
            };

            return Address;
        })();

        security.ServiceAccountMatch = (function() {

            /**
             * Properties of a ServiceAccountMatch.
             * @typedef {Object} istio.security.ServiceAccountMatch.$Properties
             * @property {string|null} [namespace] ServiceAccountMatch namespace
             * @property {string|null} [serviceAccount] ServiceAccountMatch serviceAccount
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a ServiceAccountMatch.
             * @memberof istio.security
             * @interface IServiceAccountMatch
             * @augments istio.security.ServiceAccountMatch.$Properties
             * @deprecated Use istio.security.ServiceAccountMatch.$Properties instead.
             */

            /**
             * Shape of a ServiceAccountMatch.
             * @typedef {istio.security.ServiceAccountMatch.$Properties} istio.security.ServiceAccountMatch.$Shape
             */

            /**
             * Constructs a new ServiceAccountMatch.
             * @memberof istio.security
             * @classdesc Represents a ServiceAccountMatch.
             * @constructor
             * @param {istio.security.ServiceAccountMatch.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const ServiceAccountMatch = function (properties) {
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * ServiceAccountMatch namespace.
             * @member {string} namespace
             * @memberof istio.security.ServiceAccountMatch
             * @instance
             */
            ServiceAccountMatch.prototype.namespace = "";

            /**
             * ServiceAccountMatch serviceAccount.
             * @member {string} serviceAccount
             * @memberof istio.security.ServiceAccountMatch
             * @instance
             */
            ServiceAccountMatch.prototype.serviceAccount = "";

            /**
             * Creates a new ServiceAccountMatch instance using the specified properties.
             * @function create
             * @memberof istio.security.ServiceAccountMatch
             * @static
             * @param {istio.security.ServiceAccountMatch.$Properties=} [properties] Properties to set
             * @returns {istio.security.ServiceAccountMatch} ServiceAccountMatch instance
             * @type {{
             *   (properties: istio.security.ServiceAccountMatch.$Shape): istio.security.ServiceAccountMatch & istio.security.ServiceAccountMatch.$Shape;
             *   (properties?: istio.security.ServiceAccountMatch.$Properties): istio.security.ServiceAccountMatch;
             * }}
             */
            ServiceAccountMatch.create = function(properties) {
                return new ServiceAccountMatch(properties);
            };

            /**
             * Encodes the specified ServiceAccountMatch message. Does not implicitly {@link istio.security.ServiceAccountMatch.verify|verify} messages.
             * @function encode
             * @memberof istio.security.ServiceAccountMatch
             * @static
             * @param {istio.security.ServiceAccountMatch.$Properties} message ServiceAccountMatch message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            ServiceAccountMatch.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.namespace != null && $Object.hasOwnProperty.call(message, "namespace") && message.namespace !== "")
                    writer.uint32(/* id 1, wireType 2 =*/10).string(message.namespace);
                if (message.serviceAccount != null && $Object.hasOwnProperty.call(message, "serviceAccount") && message.serviceAccount !== "")
                    writer.uint32(/* id 2, wireType 2 =*/18).string(message.serviceAccount);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes a ServiceAccountMatch message from the specified reader or buffer.
             * @function decode
             * @memberof istio.security.ServiceAccountMatch
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {istio.security.ServiceAccountMatch & istio.security.ServiceAccountMatch.$Shape} ServiceAccountMatch
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            ServiceAccountMatch.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.istio.security.ServiceAccountMatch();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.namespace = value;
                            else
                                delete message.namespace;
                            continue;
                        }
                    case 2: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.serviceAccount = value;
                            else
                                delete message.serviceAccount;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Gets the type url for ServiceAccountMatch
             * @function getTypeUrl
             * @memberof istio.security.ServiceAccountMatch
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            ServiceAccountMatch.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/istio.security.ServiceAccountMatch";
            };

            return ServiceAccountMatch;
        })();

        security.StringMatch = (function() {

            /**
             * Properties of a StringMatch.
             * @typedef {Object} istio.security.StringMatch.$Properties
             * @property {string|null} [exact] StringMatch exact
             * @property {string|null} [prefix] StringMatch prefix
             * @property {string|null} [suffix] StringMatch suffix
             * @property {google.protobuf.Empty.$Properties|null} [presence] StringMatch presence
             * @property {"exact"|"prefix"|"suffix"|"presence"} [matchType] StringMatch matchType
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a StringMatch.
             * @memberof istio.security
             * @interface IStringMatch
             * @augments istio.security.StringMatch.$Properties
             * @deprecated Use istio.security.StringMatch.$Properties instead.
             */

            /**
             * Narrowed shape of a StringMatch.
             * @typedef {{
             *   exact?: string|null;
             *   prefix?: string|null;
             *   suffix?: string|null;
             *   presence?: google.protobuf.Empty.$Shape|null;
             *   $unknowns?: Array.<Uint8Array>;
             * } & (
             *   ({ matchType?: undefined; exact?: null; prefix?: null; suffix?: null; presence?: null }|{ matchType?: "exact"; exact: string; prefix?: null; suffix?: null; presence?: null }|{ matchType?: "prefix"; exact?: null; prefix: string; suffix?: null; presence?: null }|{ matchType?: "suffix"; exact?: null; prefix?: null; suffix: string; presence?: null }|{ matchType?: "presence"; exact?: null; prefix?: null; suffix?: null; presence: google.protobuf.Empty.$Shape })
             * )} istio.security.StringMatch.$Shape
             */

            /**
             * Constructs a new StringMatch.
             * @memberof istio.security
             * @classdesc Represents a StringMatch.
             * @constructor
             * @param {istio.security.StringMatch.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const StringMatch = function (properties) {
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * StringMatch exact.
             * @member {string|null|undefined} exact
             * @memberof istio.security.StringMatch
             * @instance
             */
            StringMatch.prototype.exact = null;

            /**
             * StringMatch prefix.
             * @member {string|null|undefined} prefix
             * @memberof istio.security.StringMatch
             * @instance
             */
            StringMatch.prototype.prefix = null;

            /**
             * StringMatch suffix.
             * @member {string|null|undefined} suffix
             * @memberof istio.security.StringMatch
             * @instance
             */
            StringMatch.prototype.suffix = null;

            /**
             * StringMatch presence.
             * @member {google.protobuf.Empty.$Properties|null|undefined} presence
             * @memberof istio.security.StringMatch
             * @instance
             */
            StringMatch.prototype.presence = null;

            // OneOf field names bound to virtual getters and setters
            let $oneOfFields;

            /**
             * StringMatch matchType.
             * @member {"exact"|"prefix"|"suffix"|"presence"|undefined} matchType
             * @memberof istio.security.StringMatch
             * @instance
             */
            $Object.defineProperty(StringMatch.prototype, "matchType", {
                get: $util.oneOfGetter($oneOfFields = ["exact", "prefix", "suffix", "presence"]),
                set: $util.oneOfSetter($oneOfFields)
            });

            /**
             * Creates a new StringMatch instance using the specified properties.
             * @function create
             * @memberof istio.security.StringMatch
             * @static
             * @param {istio.security.StringMatch.$Properties=} [properties] Properties to set
             * @returns {istio.security.StringMatch} StringMatch instance
             * @type {{
             *   (properties: istio.security.StringMatch.$Shape): istio.security.StringMatch & istio.security.StringMatch.$Shape;
             *   (properties?: istio.security.StringMatch.$Properties): istio.security.StringMatch;
             * }}
             */
            StringMatch.create = function(properties) {
                return new StringMatch(properties);
            };

            /**
             * Encodes the specified StringMatch message. Does not implicitly {@link istio.security.StringMatch.verify|verify} messages.
             * @function encode
             * @memberof istio.security.StringMatch
             * @static
             * @param {istio.security.StringMatch.$Properties} message StringMatch message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            StringMatch.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.exact != null && $Object.hasOwnProperty.call(message, "exact"))
                    writer.uint32(/* id 1, wireType 2 =*/10).string(message.exact);
                if (message.prefix != null && $Object.hasOwnProperty.call(message, "prefix"))
                    writer.uint32(/* id 2, wireType 2 =*/18).string(message.prefix);
                if (message.suffix != null && $Object.hasOwnProperty.call(message, "suffix"))
                    writer.uint32(/* id 3, wireType 2 =*/26).string(message.suffix);
                if (message.presence != null && $Object.hasOwnProperty.call(message, "presence"))
                    $root.google.protobuf.Empty.encode(message.presence, writer.uint32(/* id 4, wireType 2 =*/34).fork(), _depth + 1).ldelim();
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes a StringMatch message from the specified reader or buffer.
             * @function decode
             * @memberof istio.security.StringMatch
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {istio.security.StringMatch & istio.security.StringMatch.$Shape} StringMatch
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            StringMatch.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.istio.security.StringMatch();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            message.exact = reader.stringVerify();
                            message.matchType = "exact";
                            continue;
                        }
                    case 2: {
                            if (wireType !== 2)
                                break;
                            message.prefix = reader.stringVerify();
                            message.matchType = "prefix";
                            continue;
                        }
                    case 3: {
                            if (wireType !== 2)
                                break;
                            message.suffix = reader.stringVerify();
                            message.matchType = "suffix";
                            continue;
                        }
                    case 4: {
                            if (wireType !== 2)
                                break;
                            message.presence = $root.google.protobuf.Empty.decode(reader, reader.size(), $undefined, _depth + 1, message.presence);
                            message.matchType = "presence";
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Gets the type url for StringMatch
             * @function getTypeUrl
             * @memberof istio.security.StringMatch
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            StringMatch.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/istio.security.StringMatch";
            };

            return StringMatch;
        })();

        /**
         * Scope enum.
         * @name istio.security.Scope
         * @enum {number}
         * @property {number} GLOBAL=0 GLOBAL value
         * @property {number} NAMESPACE=1 NAMESPACE value
         * @property {number} WORKLOAD_SELECTOR=2 WORKLOAD_SELECTOR value
         */
        security.Scope = (function() {
            const valuesById = $Object.create(null), values = $Object.create(valuesById);
            values[valuesById[0] = "GLOBAL"] = 0;
            values[valuesById[1] = "NAMESPACE"] = 1;
            values[valuesById[2] = "WORKLOAD_SELECTOR"] = 2;
            return values;
        })();

        /**
         * Action enum.
         * @name istio.security.Action
         * @enum {number}
         * @property {number} ALLOW=0 ALLOW value
         * @property {number} DENY=1 DENY value
         */
        security.Action = (function() {
            const valuesById = $Object.create(null), values = $Object.create(valuesById);
            values[valuesById[0] = "ALLOW"] = 0;
            values[valuesById[1] = "DENY"] = 1;
            return values;
        })();

        return security;
    })();

    istio.v1 = (function() {

        /**
         * Namespace v1.
         * @memberof istio
         * @namespace
         */
        const v1 = {};

        v1.auth = (function() {

            /**
             * Namespace auth.
             * @memberof istio.v1
             * @namespace
             */
            const auth = {};

            auth.IstioCertificateRequest = (function() {

                /**
                 * Properties of an IstioCertificateRequest.
                 * @typedef {Object} istio.v1.auth.IstioCertificateRequest.$Properties
                 * @property {string|null} [csr] IstioCertificateRequest csr
                 * @property {number|null} [validityDuration] IstioCertificateRequest validityDuration
                 * @property {google.protobuf.Struct.$Properties|null} [metadata] IstioCertificateRequest metadata
                 * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
                 */

                /**
                 * Properties of an IstioCertificateRequest.
                 * @memberof istio.v1.auth
                 * @interface IIstioCertificateRequest
                 * @augments istio.v1.auth.IstioCertificateRequest.$Properties
                 * @deprecated Use istio.v1.auth.IstioCertificateRequest.$Properties instead.
                 */

                /**
                 * Shape of an IstioCertificateRequest.
                 * @typedef {{
                 *   csr?: string|null;
                 *   validityDuration?: number|null;
                 *   metadata?: google.protobuf.Struct.$Shape|null;
                 *   $unknowns?: Array.<Uint8Array>;
                 * }} istio.v1.auth.IstioCertificateRequest.$Shape
                 */

                /**
                 * Constructs a new IstioCertificateRequest.
                 * @memberof istio.v1.auth
                 * @classdesc Represents an IstioCertificateRequest.
                 * @constructor
                 * @param {istio.v1.auth.IstioCertificateRequest.$Properties=} [properties] Properties to set
                 * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
                 */
                const IstioCertificateRequest = function (properties) {
                    if (properties)
                        for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                            if (properties[keys[i]] != null && keys[i] !== "__proto__")
                                this[keys[i]] = properties[keys[i]];
                };

                /**
                 * IstioCertificateRequest csr.
                 * @member {string} csr
                 * @memberof istio.v1.auth.IstioCertificateRequest
                 * @instance
                 */
                IstioCertificateRequest.prototype.csr = "";

                /**
                 * IstioCertificateRequest validityDuration.
                 * @member {number} validityDuration
                 * @memberof istio.v1.auth.IstioCertificateRequest
                 * @instance
                 */
                IstioCertificateRequest.prototype.validityDuration = $util.Long ? $util.Long.fromBits(0,0,false) : 0;

                /**
                 * IstioCertificateRequest metadata.
                 * @member {google.protobuf.Struct.$Properties|null|undefined} metadata
                 * @memberof istio.v1.auth.IstioCertificateRequest
                 * @instance
                 */
                IstioCertificateRequest.prototype.metadata = null;

                /**
                 * Creates a new IstioCertificateRequest instance using the specified properties.
                 * @function create
                 * @memberof istio.v1.auth.IstioCertificateRequest
                 * @static
                 * @param {istio.v1.auth.IstioCertificateRequest.$Properties=} [properties] Properties to set
                 * @returns {istio.v1.auth.IstioCertificateRequest} IstioCertificateRequest instance
                 * @type {{
                 *   (properties: istio.v1.auth.IstioCertificateRequest.$Shape): istio.v1.auth.IstioCertificateRequest & istio.v1.auth.IstioCertificateRequest.$Shape;
                 *   (properties?: istio.v1.auth.IstioCertificateRequest.$Properties): istio.v1.auth.IstioCertificateRequest;
                 * }}
                 */
                IstioCertificateRequest.create = function(properties) {
                    return new IstioCertificateRequest(properties);
                };

                /**
                 * Encodes the specified IstioCertificateRequest message. Does not implicitly {@link istio.v1.auth.IstioCertificateRequest.verify|verify} messages.
                 * @function encode
                 * @memberof istio.v1.auth.IstioCertificateRequest
                 * @static
                 * @param {istio.v1.auth.IstioCertificateRequest.$Properties} message IstioCertificateRequest message or plain object to encode
                 * @param {$protobuf.Writer} [writer] Writer to encode to
                 * @returns {$protobuf.Writer} Writer
                 */
                IstioCertificateRequest.encode = function (message, writer, _depth) {
                    if (!writer)
                        writer = $Writer.create();
                    if (_depth === $undefined)
                        _depth = 0;
                    if (_depth > $util.recursionLimit)
                        throw $Error("max depth exceeded");
                    if (message.csr != null && $Object.hasOwnProperty.call(message, "csr") && message.csr !== "")
                        writer.uint32(/* id 1, wireType 2 =*/10).string(message.csr);
                    if (message.validityDuration != null && $Object.hasOwnProperty.call(message, "validityDuration") && (typeof message.validityDuration === "object" ? message.validityDuration.low || message.validityDuration.high : message.validityDuration !== 0))
                        writer.uint32(/* id 3, wireType 0 =*/24).int64(message.validityDuration);
                    if (message.metadata != null && $Object.hasOwnProperty.call(message, "metadata"))
                        $root.google.protobuf.Struct.encode(message.metadata, writer.uint32(/* id 4, wireType 2 =*/34).fork(), _depth + 1).ldelim();
                    if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                        for (let i = 0; i < message.$unknowns.length; ++i)
                            writer.raw(message.$unknowns[i]);
                    return writer;
                };

                /**
                 * Decodes an IstioCertificateRequest message from the specified reader or buffer.
                 * @function decode
                 * @memberof istio.v1.auth.IstioCertificateRequest
                 * @static
                 * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
                 * @param {number} [length] Message length if known beforehand
                 * @returns {istio.v1.auth.IstioCertificateRequest & istio.v1.auth.IstioCertificateRequest.$Shape} IstioCertificateRequest
                 * @throws {Error} If the payload is not a reader or valid buffer
                 * @throws {$protobuf.util.ProtocolError} If required fields are missing
                 */
                IstioCertificateRequest.decode = function (reader, length, _end, _depth, _target) {
                    if (!(reader instanceof $Reader))
                        reader = $Reader.create(reader);
                    if (_depth === $undefined)
                        _depth = 0;
                    if (_depth > $Reader.recursionLimit)
                        throw $Error("max depth exceeded");
                    let end, message, value;
                    if (length === $undefined)
                        end = reader.len;
                    else {
                        end = reader.pos + length;
                        if (end > reader.len)
                            throw $RangeError("index out of range");
                        length = reader.len;
                        reader.len = end;
                    }
                    message = _target || new $root.istio.v1.auth.IstioCertificateRequest();
                    while (reader.pos < end) {
                        let start = reader.pos;
                        let tag = reader.tag();
                        if (tag === _end) {
                            _end = $undefined;
                            break;
                        }
                        let wireType = tag & 7;
                        switch (tag >>>= 3) {
                        case 1: {
                                if (wireType !== 2)
                                    break;
                                if ((value = reader.stringVerify()).length)
                                    message.csr = value;
                                else
                                    delete message.csr;
                                continue;
                            }
                        case 3: {
                                if (wireType !== 0)
                                    break;
                                if (typeof (value = reader.int64()) === "object" ? value.low || value.high : value !== 0)
                                    message.validityDuration = value;
                                else
                                    delete message.validityDuration;
                                continue;
                            }
                        case 4: {
                                if (wireType !== 2)
                                    break;
                                message.metadata = $root.google.protobuf.Struct.decode(reader, reader.size(), $undefined, _depth + 1, message.metadata);
                                continue;
                            }
                        }
                        reader.skipType(wireType, _depth, tag);
                        if (!reader.discardUnknown) {
                            $util.makeProp(message, "$unknowns", false);
                            (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                        }
                    }
                    if (length !== $undefined) {
                        if (reader.pos !== end)
                            throw $RangeError("index out of range");
                        reader.len = length;
                    }
                    if (_end !== $undefined)
                        throw $Error("missing end group");
                    return message;
                };

                /**
                 * Gets the type url for IstioCertificateRequest
                 * @function getTypeUrl
                 * @memberof istio.v1.auth.IstioCertificateRequest
                 * @static
                 * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
                 * @returns {string} The type url
                 */
                IstioCertificateRequest.getTypeUrl = function(prefix) {
                    if (prefix === $undefined)
                        prefix = "type.googleapis.com";
                    return prefix + "/istio.v1.auth.IstioCertificateRequest";
                };

                return IstioCertificateRequest;
            })();

            auth.IstioCertificateResponse = (function() {

                /**
                 * Properties of an IstioCertificateResponse.
                 * @typedef {Object} istio.v1.auth.IstioCertificateResponse.$Properties
                 * @property {Array.<string>|null} [certChain] IstioCertificateResponse certChain
                 * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
                 */

                /**
                 * Properties of an IstioCertificateResponse.
                 * @memberof istio.v1.auth
                 * @interface IIstioCertificateResponse
                 * @augments istio.v1.auth.IstioCertificateResponse.$Properties
                 * @deprecated Use istio.v1.auth.IstioCertificateResponse.$Properties instead.
                 */

                /**
                 * Shape of an IstioCertificateResponse.
                 * @typedef {istio.v1.auth.IstioCertificateResponse.$Properties} istio.v1.auth.IstioCertificateResponse.$Shape
                 */

                /**
                 * Constructs a new IstioCertificateResponse.
                 * @memberof istio.v1.auth
                 * @classdesc Represents an IstioCertificateResponse.
                 * @constructor
                 * @param {istio.v1.auth.IstioCertificateResponse.$Properties=} [properties] Properties to set
                 * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
                 */
                const IstioCertificateResponse = function (properties) {
                    this.certChain = [];
                    if (properties)
                        for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                            if (properties[keys[i]] != null && keys[i] !== "__proto__")
                                this[keys[i]] = properties[keys[i]];
                };

                /**
                 * IstioCertificateResponse certChain.
                 * @member {Array.<string>} certChain
                 * @memberof istio.v1.auth.IstioCertificateResponse
                 * @instance
                 */
                IstioCertificateResponse.prototype.certChain = $util.emptyArray;

                /**
                 * Creates a new IstioCertificateResponse instance using the specified properties.
                 * @function create
                 * @memberof istio.v1.auth.IstioCertificateResponse
                 * @static
                 * @param {istio.v1.auth.IstioCertificateResponse.$Properties=} [properties] Properties to set
                 * @returns {istio.v1.auth.IstioCertificateResponse} IstioCertificateResponse instance
                 * @type {{
                 *   (properties: istio.v1.auth.IstioCertificateResponse.$Shape): istio.v1.auth.IstioCertificateResponse & istio.v1.auth.IstioCertificateResponse.$Shape;
                 *   (properties?: istio.v1.auth.IstioCertificateResponse.$Properties): istio.v1.auth.IstioCertificateResponse;
                 * }}
                 */
                IstioCertificateResponse.create = function(properties) {
                    return new IstioCertificateResponse(properties);
                };

                /**
                 * Encodes the specified IstioCertificateResponse message. Does not implicitly {@link istio.v1.auth.IstioCertificateResponse.verify|verify} messages.
                 * @function encode
                 * @memberof istio.v1.auth.IstioCertificateResponse
                 * @static
                 * @param {istio.v1.auth.IstioCertificateResponse.$Properties} message IstioCertificateResponse message or plain object to encode
                 * @param {$protobuf.Writer} [writer] Writer to encode to
                 * @returns {$protobuf.Writer} Writer
                 */
                IstioCertificateResponse.encode = function (message, writer, _depth) {
                    if (!writer)
                        writer = $Writer.create();
                    if (_depth === $undefined)
                        _depth = 0;
                    if (_depth > $util.recursionLimit)
                        throw $Error("max depth exceeded");
                    if (message.certChain != null && message.certChain.length)
                        for (let i = 0; i < message.certChain.length; ++i)
                            writer.uint32(/* id 1, wireType 2 =*/10).string(message.certChain[i]);
                    if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                        for (let i = 0; i < message.$unknowns.length; ++i)
                            writer.raw(message.$unknowns[i]);
                    return writer;
                };

                /**
                 * Decodes an IstioCertificateResponse message from the specified reader or buffer.
                 * @function decode
                 * @memberof istio.v1.auth.IstioCertificateResponse
                 * @static
                 * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
                 * @param {number} [length] Message length if known beforehand
                 * @returns {istio.v1.auth.IstioCertificateResponse & istio.v1.auth.IstioCertificateResponse.$Shape} IstioCertificateResponse
                 * @throws {Error} If the payload is not a reader or valid buffer
                 * @throws {$protobuf.util.ProtocolError} If required fields are missing
                 */
                IstioCertificateResponse.decode = function (reader, length, _end, _depth, _target) {
                    if (!(reader instanceof $Reader))
                        reader = $Reader.create(reader);
                    if (_depth === $undefined)
                        _depth = 0;
                    if (_depth > $Reader.recursionLimit)
                        throw $Error("max depth exceeded");
                    let end, message;
                    if (length === $undefined)
                        end = reader.len;
                    else {
                        end = reader.pos + length;
                        if (end > reader.len)
                            throw $RangeError("index out of range");
                        length = reader.len;
                        reader.len = end;
                    }
                    message = _target || new $root.istio.v1.auth.IstioCertificateResponse();
                    while (reader.pos < end) {
                        let start = reader.pos;
                        let tag = reader.tag();
                        if (tag === _end) {
                            _end = $undefined;
                            break;
                        }
                        let wireType = tag & 7;
                        switch (tag >>>= 3) {
                        case 1: {
                                if (wireType !== 2)
                                    break;
                                if (!(message.certChain && message.certChain.length))
                                    message.certChain = [];
                                message.certChain.push(reader.stringVerify());
                                continue;
                            }
                        }
                        reader.skipType(wireType, _depth, tag);
                        if (!reader.discardUnknown) {
                            $util.makeProp(message, "$unknowns", false);
                            (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                        }
                    }
                    if (length !== $undefined) {
                        if (reader.pos !== end)
                            throw $RangeError("index out of range");
                        reader.len = length;
                    }
                    if (_end !== $undefined)
                        throw $Error("missing end group");
                    return message;
                };

                /**
                 * Gets the type url for IstioCertificateResponse
                 * @function getTypeUrl
                 * @memberof istio.v1.auth.IstioCertificateResponse
                 * @static
                 * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
                 * @returns {string} The type url
                 */
                IstioCertificateResponse.getTypeUrl = function(prefix) {
                    if (prefix === $undefined)
                        prefix = "type.googleapis.com";
                    return prefix + "/istio.v1.auth.IstioCertificateResponse";
                };

                return IstioCertificateResponse;
            })();

            return auth;
        })();

        return v1;
    })();

    istio.workload = (function() {

        /**
         * Namespace workload.
         * @memberof istio
         * @namespace
         */
        const workload = {};

        workload.Address = (function() {

            /**
             * Properties of an Address.
             * @typedef {Object} istio.workload.Address.$Properties
             * @property {istio.workload.Workload.$Properties|null} [workload] Address workload
             * @property {istio.workload.Service.$Properties|null} [service] Address service
             * @property {"workload"|"service"} [type] Address type
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of an Address.
             * @memberof istio.workload
             * @interface IAddress
             * @augments istio.workload.Address.$Properties
             * @deprecated Use istio.workload.Address.$Properties instead.
             */

            /**
             * Narrowed shape of an Address.
             * @typedef {{
             *   workload?: istio.workload.Workload.$Shape|null;
             *   service?: istio.workload.Service.$Shape|null;
             *   $unknowns?: Array.<Uint8Array>;
             * } & (
             *   ({ type?: undefined; workload?: null; service?: null }|{ type?: "workload"; workload: istio.workload.Workload.$Shape; service?: null }|{ type?: "service"; workload?: null; service: istio.workload.Service.$Shape })
             * )} istio.workload.Address.$Shape
             */

            /**
             * Constructs a new Address.
             * @memberof istio.workload
             * @classdesc Represents an Address.
             * @constructor
             * @param {istio.workload.Address.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const Address = function (properties) {
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * Address workload.
             * @member {istio.workload.Workload.$Properties|null|undefined} workload
             * @memberof istio.workload.Address
             * @instance
             */
            Address.prototype.workload = null;

            /**
             * Address service.
             * @member {istio.workload.Service.$Properties|null|undefined} service
             * @memberof istio.workload.Address
             * @instance
             */
            Address.prototype.service = null;

            // OneOf field names bound to virtual getters and setters
            let $oneOfFields;

            /**
             * Address type.
             * @member {"workload"|"service"|undefined} type
             * @memberof istio.workload.Address
             * @instance
             */
            $Object.defineProperty(Address.prototype, "type", {
                get: $util.oneOfGetter($oneOfFields = ["workload", "service"]),
                set: $util.oneOfSetter($oneOfFields)
            });

            /**
             * Creates a new Address instance using the specified properties.
             * @function create
             * @memberof istio.workload.Address
             * @static
             * @param {istio.workload.Address.$Properties=} [properties] Properties to set
             * @returns {istio.workload.Address} Address instance
             * @type {{
             *   (properties: istio.workload.Address.$Shape): istio.workload.Address & istio.workload.Address.$Shape;
             *   (properties?: istio.workload.Address.$Properties): istio.workload.Address;
             * }}
             */
            Address.create = function(properties) {
                return new Address(properties);
            };

            /**
             * Encodes the specified Address message. Does not implicitly {@link istio.workload.Address.verify|verify} messages.
             * @function encode
             * @memberof istio.workload.Address
             * @static
             * @param {istio.workload.Address.$Properties} message Address message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            Address.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.workload != null && $Object.hasOwnProperty.call(message, "workload"))
                    $root.istio.workload.Workload.encode(message.workload, writer.uint32(/* id 1, wireType 2 =*/10).fork(), _depth + 1).ldelim();
                if (message.service != null && $Object.hasOwnProperty.call(message, "service"))
                    $root.istio.workload.Service.encode(message.service, writer.uint32(/* id 2, wireType 2 =*/18).fork(), _depth + 1).ldelim();
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes an Address message from the specified reader or buffer.
             * @function decode
             * @memberof istio.workload.Address
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {istio.workload.Address & istio.workload.Address.$Shape} Address
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            Address.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.istio.workload.Address();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            message.workload = $root.istio.workload.Workload.decode(reader, reader.size(), $undefined, _depth + 1, message.workload);
                            message.type = "workload";
                            continue;
                        }
                    case 2: {
                            if (wireType !== 2)
                                break;
                            message.service = $root.istio.workload.Service.decode(reader, reader.size(), $undefined, _depth + 1, message.service);
                            message.type = "service";
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Gets the type url for Address
             * @function getTypeUrl
             * @memberof istio.workload.Address
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            Address.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/istio.workload.Address";
            };

            return Address;
        })();

        workload.Service = (function() {

            /**
             * Properties of a Service.
             * @typedef {Object} istio.workload.Service.$Properties
             * @property {string|null} [name] Service name
             * @property {string|null} [namespace] Service namespace
             * @property {string|null} [hostname] Service hostname
             * @property {Array.<istio.workload.NetworkAddress.$Properties>|null} [addresses] Service addresses
             * @property {Array.<istio.workload.Port.$Properties>|null} [ports] Service ports
             * @property {Array.<string>|null} [subjectAltNames] Service subjectAltNames
             * @property {istio.workload.GatewayAddress.$Properties|null} [waypoint] Service waypoint
             * @property {istio.workload.LoadBalancing.$Properties|null} [loadBalancing] Service loadBalancing
             * @property {istio.workload.IPFamilies|null} [ipFamilies] Service ipFamilies
             * @property {Array.<istio.workload.Extension.$Properties>|null} [extensions] Service extensions
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a Service.
             * @memberof istio.workload
             * @interface IService
             * @augments istio.workload.Service.$Properties
             * @deprecated Use istio.workload.Service.$Properties instead.
             */

            /**
             * Shape of a Service.
             * @typedef {{
             *   name?: string|null;
             *   namespace?: string|null;
             *   hostname?: string|null;
             *   addresses?: Array.<istio.workload.NetworkAddress.$Shape>|null;
             *   ports?: Array.<istio.workload.Port.$Shape>|null;
             *   subjectAltNames?: Array.<string>|null;
             *   waypoint?: istio.workload.GatewayAddress.$Shape|null;
             *   loadBalancing?: istio.workload.LoadBalancing.$Shape|null;
             *   ipFamilies?: istio.workload.IPFamilies|null;
             *   extensions?: Array.<istio.workload.Extension.$Shape>|null;
             *   $unknowns?: Array.<Uint8Array>;
             * }} istio.workload.Service.$Shape
             */

            /**
             * Constructs a new Service.
             * @memberof istio.workload
             * @classdesc Represents a Service.
             * @constructor
             * @param {istio.workload.Service.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const Service = function (properties) {
                this.addresses = [];
                this.ports = [];
                this.subjectAltNames = [];
                this.extensions = [];
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * Service name.
             * @member {string} name
             * @memberof istio.workload.Service
             * @instance
             */
            Service.prototype.name = "";

            /**
             * Service namespace.
             * @member {string} namespace
             * @memberof istio.workload.Service
             * @instance
             */
            Service.prototype.namespace = "";

            /**
             * Service hostname.
             * @member {string} hostname
             * @memberof istio.workload.Service
             * @instance
             */
            Service.prototype.hostname = "";

            /**
             * Service addresses.
             * @member {Array.<istio.workload.NetworkAddress.$Properties>} addresses
             * @memberof istio.workload.Service
             * @instance
             */
            Service.prototype.addresses = $util.emptyArray;

            /**
             * Service ports.
             * @member {Array.<istio.workload.Port.$Properties>} ports
             * @memberof istio.workload.Service
             * @instance
             */
            Service.prototype.ports = $util.emptyArray;

            /**
             * Service subjectAltNames.
             * @member {Array.<string>} subjectAltNames
             * @memberof istio.workload.Service
             * @instance
             */
            Service.prototype.subjectAltNames = $util.emptyArray;

            /**
             * Service waypoint.
             * @member {istio.workload.GatewayAddress.$Properties|null|undefined} waypoint
             * @memberof istio.workload.Service
             * @instance
             */
            Service.prototype.waypoint = null;

            /**
             * Service loadBalancing.
             * @member {istio.workload.LoadBalancing.$Properties|null|undefined} loadBalancing
             * @memberof istio.workload.Service
             * @instance
             */
            Service.prototype.loadBalancing = null;

            /**
             * Service ipFamilies.
             * @member {istio.workload.IPFamilies} ipFamilies
             * @memberof istio.workload.Service
             * @instance
             */
            Service.prototype.ipFamilies = 0;

            /**
             * Service extensions.
             * @member {Array.<istio.workload.Extension.$Properties>} extensions
             * @memberof istio.workload.Service
             * @instance
             */
            Service.prototype.extensions = $util.emptyArray;

            /**
             * Creates a new Service instance using the specified properties.
             * @function create
             * @memberof istio.workload.Service
             * @static
             * @param {istio.workload.Service.$Properties=} [properties] Properties to set
             * @returns {istio.workload.Service} Service instance
             * @type {{
             *   (properties: istio.workload.Service.$Shape): istio.workload.Service & istio.workload.Service.$Shape;
             *   (properties?: istio.workload.Service.$Properties): istio.workload.Service;
             * }}
             */
            Service.create = function(properties) {
                return new Service(properties);
            };

            /**
             * Encodes the specified Service message. Does not implicitly {@link istio.workload.Service.verify|verify} messages.
             * @function encode
             * @memberof istio.workload.Service
             * @static
             * @param {istio.workload.Service.$Properties} message Service message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            Service.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.name != null && $Object.hasOwnProperty.call(message, "name") && message.name !== "")
                    writer.uint32(/* id 1, wireType 2 =*/10).string(message.name);
                if (message.namespace != null && $Object.hasOwnProperty.call(message, "namespace") && message.namespace !== "")
                    writer.uint32(/* id 2, wireType 2 =*/18).string(message.namespace);
                if (message.hostname != null && $Object.hasOwnProperty.call(message, "hostname") && message.hostname !== "")
                    writer.uint32(/* id 3, wireType 2 =*/26).string(message.hostname);
                if (message.addresses != null && message.addresses.length)
                    for (let i = 0; i < message.addresses.length; ++i)
                        $root.istio.workload.NetworkAddress.encode(message.addresses[i], writer.uint32(/* id 4, wireType 2 =*/34).fork(), _depth + 1).ldelim();
                if (message.ports != null && message.ports.length)
                    for (let i = 0; i < message.ports.length; ++i)
                        $root.istio.workload.Port.encode(message.ports[i], writer.uint32(/* id 5, wireType 2 =*/42).fork(), _depth + 1).ldelim();
                if (message.subjectAltNames != null && message.subjectAltNames.length)
                    for (let i = 0; i < message.subjectAltNames.length; ++i)
                        writer.uint32(/* id 6, wireType 2 =*/50).string(message.subjectAltNames[i]);
                if (message.waypoint != null && $Object.hasOwnProperty.call(message, "waypoint"))
                    $root.istio.workload.GatewayAddress.encode(message.waypoint, writer.uint32(/* id 7, wireType 2 =*/58).fork(), _depth + 1).ldelim();
                if (message.loadBalancing != null && $Object.hasOwnProperty.call(message, "loadBalancing"))
                    $root.istio.workload.LoadBalancing.encode(message.loadBalancing, writer.uint32(/* id 8, wireType 2 =*/66).fork(), _depth + 1).ldelim();
                if (message.ipFamilies != null && $Object.hasOwnProperty.call(message, "ipFamilies") && message.ipFamilies !== 0)
                    writer.uint32(/* id 9, wireType 0 =*/72).int32(message.ipFamilies);
                if (message.extensions != null && message.extensions.length)
                    for (let i = 0; i < message.extensions.length; ++i)
                        $root.istio.workload.Extension.encode(message.extensions[i], writer.uint32(/* id 10, wireType 2 =*/82).fork(), _depth + 1).ldelim();
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes a Service message from the specified reader or buffer.
             * @function decode
             * @memberof istio.workload.Service
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {istio.workload.Service & istio.workload.Service.$Shape} Service
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            Service.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.istio.workload.Service();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.name = value;
                            else
                                delete message.name;
                            continue;
                        }
                    case 2: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.namespace = value;
                            else
                                delete message.namespace;
                            continue;
                        }
                    case 3: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.hostname = value;
                            else
                                delete message.hostname;
                            continue;
                        }
                    case 4: {
                            if (wireType !== 2)
                                break;
                            if (!(message.addresses && message.addresses.length))
                                message.addresses = [];
                            message.addresses.push($root.istio.workload.NetworkAddress.decode(reader, reader.size(), $undefined, _depth + 1));
                            continue;
                        }
                    case 5: {
                            if (wireType !== 2)
                                break;
                            if (!(message.ports && message.ports.length))
                                message.ports = [];
                            message.ports.push($root.istio.workload.Port.decode(reader, reader.size(), $undefined, _depth + 1));
                            continue;
                        }
                    case 6: {
                            if (wireType !== 2)
                                break;
                            if (!(message.subjectAltNames && message.subjectAltNames.length))
                                message.subjectAltNames = [];
                            message.subjectAltNames.push(reader.stringVerify());
                            continue;
                        }
                    case 7: {
                            if (wireType !== 2)
                                break;
                            message.waypoint = $root.istio.workload.GatewayAddress.decode(reader, reader.size(), $undefined, _depth + 1, message.waypoint);
                            continue;
                        }
                    case 8: {
                            if (wireType !== 2)
                                break;
                            message.loadBalancing = $root.istio.workload.LoadBalancing.decode(reader, reader.size(), $undefined, _depth + 1, message.loadBalancing);
                            continue;
                        }
                    case 9: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.int32())
                                message.ipFamilies = value;
                            else
                                delete message.ipFamilies;
                            continue;
                        }
                    case 10: {
                            if (wireType !== 2)
                                break;
                            if (!(message.extensions && message.extensions.length))
                                message.extensions = [];
                            message.extensions.push($root.istio.workload.Extension.decode(reader, reader.size(), $undefined, _depth + 1));
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Gets the type url for Service
             * @function getTypeUrl
             * @memberof istio.workload.Service
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            Service.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/istio.workload.Service";
            };

            return Service;
        })();

        /**
         * IPFamilies enum.
         * @name istio.workload.IPFamilies
         * @enum {number}
         * @property {number} AUTOMATIC=0 AUTOMATIC value
         * @property {number} IPV4_ONLY=1 IPV4_ONLY value
         * @property {number} IPV6_ONLY=2 IPV6_ONLY value
         * @property {number} DUAL=3 DUAL value
         */
        workload.IPFamilies = (function() {
            const valuesById = $Object.create(null), values = $Object.create(valuesById);
            values[valuesById[0] = "AUTOMATIC"] = 0;
            values[valuesById[1] = "IPV4_ONLY"] = 1;
            values[valuesById[2] = "IPV6_ONLY"] = 2;
            values[valuesById[3] = "DUAL"] = 3;
            return values;
        })();

        workload.LoadBalancing = (function() {

            /**
             * Properties of a LoadBalancing.
             * @typedef {Object} istio.workload.LoadBalancing.$Properties
             * @property {Array.<istio.workload.LoadBalancing.Scope>|null} [routingPreference] LoadBalancing routingPreference
             * @property {istio.workload.LoadBalancing.Mode|null} [mode] LoadBalancing mode
             * @property {istio.workload.LoadBalancing.HealthPolicy|null} [healthPolicy] LoadBalancing healthPolicy
             * @property {istio.workload.LoadBalancing.DnsConnectStrategy|null} [dnsConnectStrategy] LoadBalancing dnsConnectStrategy
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a LoadBalancing.
             * @memberof istio.workload
             * @interface ILoadBalancing
             * @augments istio.workload.LoadBalancing.$Properties
             * @deprecated Use istio.workload.LoadBalancing.$Properties instead.
             */

            /**
             * Shape of a LoadBalancing.
             * @typedef {istio.workload.LoadBalancing.$Properties} istio.workload.LoadBalancing.$Shape
             */

            /**
             * Constructs a new LoadBalancing.
             * @memberof istio.workload
             * @classdesc Represents a LoadBalancing.
             * @constructor
             * @param {istio.workload.LoadBalancing.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const LoadBalancing = function (properties) {
                this.routingPreference = [];
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * LoadBalancing routingPreference.
             * @member {Array.<istio.workload.LoadBalancing.Scope>} routingPreference
             * @memberof istio.workload.LoadBalancing
             * @instance
             */
            LoadBalancing.prototype.routingPreference = $util.emptyArray;

            /**
             * LoadBalancing mode.
             * @member {istio.workload.LoadBalancing.Mode} mode
             * @memberof istio.workload.LoadBalancing
             * @instance
             */
            LoadBalancing.prototype.mode = 0;

            /**
             * LoadBalancing healthPolicy.
             * @member {istio.workload.LoadBalancing.HealthPolicy} healthPolicy
             * @memberof istio.workload.LoadBalancing
             * @instance
             */
            LoadBalancing.prototype.healthPolicy = 0;

            /**
             * LoadBalancing dnsConnectStrategy.
             * @member {istio.workload.LoadBalancing.DnsConnectStrategy} dnsConnectStrategy
             * @memberof istio.workload.LoadBalancing
             * @instance
             */
            LoadBalancing.prototype.dnsConnectStrategy = 0;

            /**
             * Creates a new LoadBalancing instance using the specified properties.
             * @function create
             * @memberof istio.workload.LoadBalancing
             * @static
             * @param {istio.workload.LoadBalancing.$Properties=} [properties] Properties to set
             * @returns {istio.workload.LoadBalancing} LoadBalancing instance
             * @type {{
             *   (properties: istio.workload.LoadBalancing.$Shape): istio.workload.LoadBalancing & istio.workload.LoadBalancing.$Shape;
             *   (properties?: istio.workload.LoadBalancing.$Properties): istio.workload.LoadBalancing;
             * }}
             */
            LoadBalancing.create = function(properties) {
                return new LoadBalancing(properties);
            };

            /**
             * Encodes the specified LoadBalancing message. Does not implicitly {@link istio.workload.LoadBalancing.verify|verify} messages.
             * @function encode
             * @memberof istio.workload.LoadBalancing
             * @static
             * @param {istio.workload.LoadBalancing.$Properties} message LoadBalancing message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            LoadBalancing.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.routingPreference != null && message.routingPreference.length)
                    writer.uint32(/* id 1, wireType 2 =*/10).int32s(message.routingPreference);
                if (message.mode != null && $Object.hasOwnProperty.call(message, "mode") && message.mode !== 0)
                    writer.uint32(/* id 2, wireType 0 =*/16).int32(message.mode);
                if (message.healthPolicy != null && $Object.hasOwnProperty.call(message, "healthPolicy") && message.healthPolicy !== 0)
                    writer.uint32(/* id 3, wireType 0 =*/24).int32(message.healthPolicy);
                if (message.dnsConnectStrategy != null && $Object.hasOwnProperty.call(message, "dnsConnectStrategy") && message.dnsConnectStrategy !== 0)
                    writer.uint32(/* id 4, wireType 0 =*/32).int32(message.dnsConnectStrategy);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes a LoadBalancing message from the specified reader or buffer.
             * @function decode
             * @memberof istio.workload.LoadBalancing
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {istio.workload.LoadBalancing & istio.workload.LoadBalancing.$Shape} LoadBalancing
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            LoadBalancing.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.istio.workload.LoadBalancing();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType === 2) {
                                if (!(message.routingPreference && message.routingPreference.length))
                                    message.routingPreference = [];
                                reader.int32s(message.routingPreference);
                                continue;
                            }
                            if (wireType !== 0)
                                break;
                            if (!(message.routingPreference && message.routingPreference.length))
                                message.routingPreference = [];
                            message.routingPreference.push(reader.int32());
                            continue;
                        }
                    case 2: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.int32())
                                message.mode = value;
                            else
                                delete message.mode;
                            continue;
                        }
                    case 3: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.int32())
                                message.healthPolicy = value;
                            else
                                delete message.healthPolicy;
                            continue;
                        }
                    case 4: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.int32())
                                message.dnsConnectStrategy = value;
                            else
                                delete message.dnsConnectStrategy;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Gets the type url for LoadBalancing
             * @function getTypeUrl
             * @memberof istio.workload.LoadBalancing
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            LoadBalancing.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/istio.workload.LoadBalancing";
            };

            /**
             * Scope enum.
             * @name istio.workload.LoadBalancing.Scope
             * @enum {number}
             * @property {number} UNSPECIFIED_SCOPE=0 UNSPECIFIED_SCOPE value
             * @property {number} REGION=1 REGION value
             * @property {number} ZONE=2 ZONE value
             * @property {number} SUBZONE=3 SUBZONE value
             * @property {number} NODE=4 NODE value
             * @property {number} CLUSTER=5 CLUSTER value
             * @property {number} NETWORK=6 NETWORK value
             */
            LoadBalancing.Scope = (function() {
                const valuesById = $Object.create(null), values = $Object.create(valuesById);
                values[valuesById[0] = "UNSPECIFIED_SCOPE"] = 0;
                values[valuesById[1] = "REGION"] = 1;
                values[valuesById[2] = "ZONE"] = 2;
                values[valuesById[3] = "SUBZONE"] = 3;
                values[valuesById[4] = "NODE"] = 4;
                values[valuesById[5] = "CLUSTER"] = 5;
                values[valuesById[6] = "NETWORK"] = 6;
                return values;
            })();

            /**
             * Mode enum.
             * @name istio.workload.LoadBalancing.Mode
             * @enum {number}
             * @property {number} UNSPECIFIED_MODE=0 UNSPECIFIED_MODE value
             * @property {number} STRICT=1 STRICT value
             * @property {number} FAILOVER=2 FAILOVER value
             * @property {number} PASSTHROUGH=3 PASSTHROUGH value
             */
            LoadBalancing.Mode = (function() {
                const valuesById = $Object.create(null), values = $Object.create(valuesById);
                values[valuesById[0] = "UNSPECIFIED_MODE"] = 0;
                values[valuesById[1] = "STRICT"] = 1;
                values[valuesById[2] = "FAILOVER"] = 2;
                values[valuesById[3] = "PASSTHROUGH"] = 3;
                return values;
            })();

            /**
             * HealthPolicy enum.
             * @name istio.workload.LoadBalancing.HealthPolicy
             * @enum {number}
             * @property {number} ONLY_HEALTHY=0 ONLY_HEALTHY value
             * @property {number} ALLOW_ALL=1 ALLOW_ALL value
             */
            LoadBalancing.HealthPolicy = (function() {
                const valuesById = $Object.create(null), values = $Object.create(valuesById);
                values[valuesById[0] = "ONLY_HEALTHY"] = 0;
                values[valuesById[1] = "ALLOW_ALL"] = 1;
                return values;
            })();

            /**
             * DnsConnectStrategy enum.
             * @name istio.workload.LoadBalancing.DnsConnectStrategy
             * @enum {number}
             * @property {number} DEFAULT=0 DEFAULT value
             * @property {number} FIRST_HEALTHY_RACE=1 FIRST_HEALTHY_RACE value
             */
            LoadBalancing.DnsConnectStrategy = (function() {
                const valuesById = $Object.create(null), values = $Object.create(valuesById);
                values[valuesById[0] = "DEFAULT"] = 0;
                values[valuesById[1] = "FIRST_HEALTHY_RACE"] = 1;
                return values;
            })();

            return LoadBalancing;
        })();

        /**
         * NetworkMode enum.
         * @name istio.workload.NetworkMode
         * @enum {number}
         * @property {number} STANDARD=0 STANDARD value
         * @property {number} HOST_NETWORK=1 HOST_NETWORK value
         */
        workload.NetworkMode = (function() {
            const valuesById = $Object.create(null), values = $Object.create(valuesById);
            values[valuesById[0] = "STANDARD"] = 0;
            values[valuesById[1] = "HOST_NETWORK"] = 1;
            return values;
        })();

        workload.Workload = (function() {

            /**
             * Properties of a Workload.
             * @typedef {Object} istio.workload.Workload.$Properties
             * @property {string|null} [uid] Workload uid
             * @property {string|null} [name] Workload name
             * @property {string|null} [namespace] Workload namespace
             * @property {Array.<Uint8Array>|null} [addresses] Workload addresses
             * @property {string|null} [hostname] Workload hostname
             * @property {string|null} [network] Workload network
             * @property {istio.workload.TunnelProtocol|null} [tunnelProtocol] Workload tunnelProtocol
             * @property {string|null} [trustDomain] Workload trustDomain
             * @property {string|null} [serviceAccount] Workload serviceAccount
             * @property {istio.workload.GatewayAddress.$Properties|null} [waypoint] Workload waypoint
             * @property {istio.workload.GatewayAddress.$Properties|null} [networkGateway] Workload networkGateway
             * @property {string|null} [node] Workload node
             * @property {string|null} [canonicalName] Workload canonicalName
             * @property {string|null} [canonicalRevision] Workload canonicalRevision
             * @property {istio.workload.WorkloadType|null} [workloadType] Workload workloadType
             * @property {string|null} [workloadName] Workload workloadName
             * @property {boolean|null} [nativeTunnel] Workload nativeTunnel
             * @property {istio.workload.ApplicationTunnel.$Properties|null} [applicationTunnel] Workload applicationTunnel
             * @property {Object.<string,istio.workload.PortList.$Properties>|null} [services] Workload services
             * @property {Array.<string>|null} [authorizationPolicies] Workload authorizationPolicies
             * @property {istio.workload.WorkloadStatus|null} [status] Workload status
             * @property {string|null} [clusterId] Workload clusterId
             * @property {istio.workload.Locality.$Properties|null} [locality] Workload locality
             * @property {istio.workload.NetworkMode|null} [networkMode] Workload networkMode
             * @property {Array.<istio.workload.Extension.$Properties>|null} [extensions] Workload extensions
             * @property {google.protobuf.UInt32Value.$Properties|null} [capacity] Workload capacity
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a Workload.
             * @memberof istio.workload
             * @interface IWorkload
             * @augments istio.workload.Workload.$Properties
             * @deprecated Use istio.workload.Workload.$Properties instead.
             */

            /**
             * Shape of a Workload.
             * @typedef {{
             *   uid?: string|null;
             *   name?: string|null;
             *   namespace?: string|null;
             *   addresses?: Array.<Uint8Array>|null;
             *   hostname?: string|null;
             *   network?: string|null;
             *   tunnelProtocol?: istio.workload.TunnelProtocol|null;
             *   trustDomain?: string|null;
             *   serviceAccount?: string|null;
             *   waypoint?: istio.workload.GatewayAddress.$Shape|null;
             *   networkGateway?: istio.workload.GatewayAddress.$Shape|null;
             *   node?: string|null;
             *   canonicalName?: string|null;
             *   canonicalRevision?: string|null;
             *   workloadType?: istio.workload.WorkloadType|null;
             *   workloadName?: string|null;
             *   nativeTunnel?: boolean|null;
             *   applicationTunnel?: istio.workload.ApplicationTunnel.$Shape|null;
             *   services?: Object.<string,istio.workload.PortList.$Shape>|null;
             *   authorizationPolicies?: Array.<string>|null;
             *   status?: istio.workload.WorkloadStatus|null;
             *   clusterId?: string|null;
             *   locality?: istio.workload.Locality.$Shape|null;
             *   networkMode?: istio.workload.NetworkMode|null;
             *   extensions?: Array.<istio.workload.Extension.$Shape>|null;
             *   capacity?: google.protobuf.UInt32Value.$Shape|null;
             *   $unknowns?: Array.<Uint8Array>;
             * }} istio.workload.Workload.$Shape
             */

            /**
             * Constructs a new Workload.
             * @memberof istio.workload
             * @classdesc Represents a Workload.
             * @constructor
             * @param {istio.workload.Workload.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const Workload = function (properties) {
                this.addresses = [];
                this.services = {};
                this.authorizationPolicies = [];
                this.extensions = [];
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * Workload uid.
             * @member {string} uid
             * @memberof istio.workload.Workload
             * @instance
             */
            Workload.prototype.uid = "";

            /**
             * Workload name.
             * @member {string} name
             * @memberof istio.workload.Workload
             * @instance
             */
            Workload.prototype.name = "";

            /**
             * Workload namespace.
             * @member {string} namespace
             * @memberof istio.workload.Workload
             * @instance
             */
            Workload.prototype.namespace = "";

            /**
             * Workload addresses.
             * @member {Array.<Uint8Array>} addresses
             * @memberof istio.workload.Workload
             * @instance
             */
            Workload.prototype.addresses = $util.emptyArray;

            /**
             * Workload hostname.
             * @member {string} hostname
             * @memberof istio.workload.Workload
             * @instance
             */
            Workload.prototype.hostname = "";

            /**
             * Workload network.
             * @member {string} network
             * @memberof istio.workload.Workload
             * @instance
             */
            Workload.prototype.network = "";

            /**
             * Workload tunnelProtocol.
             * @member {istio.workload.TunnelProtocol} tunnelProtocol
             * @memberof istio.workload.Workload
             * @instance
             */
            Workload.prototype.tunnelProtocol = 0;

            /**
             * Workload trustDomain.
             * @member {string} trustDomain
             * @memberof istio.workload.Workload
             * @instance
             */
            Workload.prototype.trustDomain = "";

            /**
             * Workload serviceAccount.
             * @member {string} serviceAccount
             * @memberof istio.workload.Workload
             * @instance
             */
            Workload.prototype.serviceAccount = "";

            /**
             * Workload waypoint.
             * @member {istio.workload.GatewayAddress.$Properties|null|undefined} waypoint
             * @memberof istio.workload.Workload
             * @instance
             */
            Workload.prototype.waypoint = null;

            /**
             * Workload networkGateway.
             * @member {istio.workload.GatewayAddress.$Properties|null|undefined} networkGateway
             * @memberof istio.workload.Workload
             * @instance
             */
            Workload.prototype.networkGateway = null;

            /**
             * Workload node.
             * @member {string} node
             * @memberof istio.workload.Workload
             * @instance
             */
            Workload.prototype.node = "";

            /**
             * Workload canonicalName.
             * @member {string} canonicalName
             * @memberof istio.workload.Workload
             * @instance
             */
            Workload.prototype.canonicalName = "";

            /**
             * Workload canonicalRevision.
             * @member {string} canonicalRevision
             * @memberof istio.workload.Workload
             * @instance
             */
            Workload.prototype.canonicalRevision = "";

            /**
             * Workload workloadType.
             * @member {istio.workload.WorkloadType} workloadType
             * @memberof istio.workload.Workload
             * @instance
             */
            Workload.prototype.workloadType = 0;

            /**
             * Workload workloadName.
             * @member {string} workloadName
             * @memberof istio.workload.Workload
             * @instance
             */
            Workload.prototype.workloadName = "";

            /**
             * Workload nativeTunnel.
             * @member {boolean} nativeTunnel
             * @memberof istio.workload.Workload
             * @instance
             */
            Workload.prototype.nativeTunnel = false;

            /**
             * Workload applicationTunnel.
             * @member {istio.workload.ApplicationTunnel.$Properties|null|undefined} applicationTunnel
             * @memberof istio.workload.Workload
             * @instance
             */
            Workload.prototype.applicationTunnel = null;

            /**
             * Workload services.
             * @member {Object.<string,istio.workload.PortList.$Properties>} services
             * @memberof istio.workload.Workload
             * @instance
             */
            Workload.prototype.services = $util.emptyObject;

            /**
             * Workload authorizationPolicies.
             * @member {Array.<string>} authorizationPolicies
             * @memberof istio.workload.Workload
             * @instance
             */
            Workload.prototype.authorizationPolicies = $util.emptyArray;

            /**
             * Workload status.
             * @member {istio.workload.WorkloadStatus} status
             * @memberof istio.workload.Workload
             * @instance
             */
            Workload.prototype.status = 0;

            /**
             * Workload clusterId.
             * @member {string} clusterId
             * @memberof istio.workload.Workload
             * @instance
             */
            Workload.prototype.clusterId = "";

            /**
             * Workload locality.
             * @member {istio.workload.Locality.$Properties|null|undefined} locality
             * @memberof istio.workload.Workload
             * @instance
             */
            Workload.prototype.locality = null;

            /**
             * Workload networkMode.
             * @member {istio.workload.NetworkMode} networkMode
             * @memberof istio.workload.Workload
             * @instance
             */
            Workload.prototype.networkMode = 0;

            /**
             * Workload extensions.
             * @member {Array.<istio.workload.Extension.$Properties>} extensions
             * @memberof istio.workload.Workload
             * @instance
             */
            Workload.prototype.extensions = $util.emptyArray;

            /**
             * Workload capacity.
             * @member {google.protobuf.UInt32Value.$Properties|null|undefined} capacity
             * @memberof istio.workload.Workload
             * @instance
             */
            Workload.prototype.capacity = null;

            /**
             * Creates a new Workload instance using the specified properties.
             * @function create
             * @memberof istio.workload.Workload
             * @static
             * @param {istio.workload.Workload.$Properties=} [properties] Properties to set
             * @returns {istio.workload.Workload} Workload instance
             * @type {{
             *   (properties: istio.workload.Workload.$Shape): istio.workload.Workload & istio.workload.Workload.$Shape;
             *   (properties?: istio.workload.Workload.$Properties): istio.workload.Workload;
             * }}
             */
            Workload.create = function(properties) {
                return new Workload(properties);
            };

            /**
             * Encodes the specified Workload message. Does not implicitly {@link istio.workload.Workload.verify|verify} messages.
             * @function encode
             * @memberof istio.workload.Workload
             * @static
             * @param {istio.workload.Workload.$Properties} message Workload message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            Workload.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.name != null && $Object.hasOwnProperty.call(message, "name") && message.name !== "")
                    writer.uint32(/* id 1, wireType 2 =*/10).string(message.name);
                if (message.namespace != null && $Object.hasOwnProperty.call(message, "namespace") && message.namespace !== "")
                    writer.uint32(/* id 2, wireType 2 =*/18).string(message.namespace);
                if (message.addresses != null && message.addresses.length)
                    for (let i = 0; i < message.addresses.length; ++i)
                        writer.uint32(/* id 3, wireType 2 =*/26).bytes(message.addresses[i]);
                if (message.network != null && $Object.hasOwnProperty.call(message, "network") && message.network !== "")
                    writer.uint32(/* id 4, wireType 2 =*/34).string(message.network);
                if (message.tunnelProtocol != null && $Object.hasOwnProperty.call(message, "tunnelProtocol") && message.tunnelProtocol !== 0)
                    writer.uint32(/* id 5, wireType 0 =*/40).int32(message.tunnelProtocol);
                if (message.trustDomain != null && $Object.hasOwnProperty.call(message, "trustDomain") && message.trustDomain !== "")
                    writer.uint32(/* id 6, wireType 2 =*/50).string(message.trustDomain);
                if (message.serviceAccount != null && $Object.hasOwnProperty.call(message, "serviceAccount") && message.serviceAccount !== "")
                    writer.uint32(/* id 7, wireType 2 =*/58).string(message.serviceAccount);
                if (message.waypoint != null && $Object.hasOwnProperty.call(message, "waypoint"))
                    $root.istio.workload.GatewayAddress.encode(message.waypoint, writer.uint32(/* id 8, wireType 2 =*/66).fork(), _depth + 1).ldelim();
                if (message.node != null && $Object.hasOwnProperty.call(message, "node") && message.node !== "")
                    writer.uint32(/* id 9, wireType 2 =*/74).string(message.node);
                if (message.canonicalName != null && $Object.hasOwnProperty.call(message, "canonicalName") && message.canonicalName !== "")
                    writer.uint32(/* id 10, wireType 2 =*/82).string(message.canonicalName);
                if (message.canonicalRevision != null && $Object.hasOwnProperty.call(message, "canonicalRevision") && message.canonicalRevision !== "")
                    writer.uint32(/* id 11, wireType 2 =*/90).string(message.canonicalRevision);
                if (message.workloadType != null && $Object.hasOwnProperty.call(message, "workloadType") && message.workloadType !== 0)
                    writer.uint32(/* id 12, wireType 0 =*/96).int32(message.workloadType);
                if (message.workloadName != null && $Object.hasOwnProperty.call(message, "workloadName") && message.workloadName !== "")
                    writer.uint32(/* id 13, wireType 2 =*/106).string(message.workloadName);
                if (message.nativeTunnel != null && $Object.hasOwnProperty.call(message, "nativeTunnel") && message.nativeTunnel !== false)
                    writer.uint32(/* id 14, wireType 0 =*/112).bool(message.nativeTunnel);
                if (message.authorizationPolicies != null && message.authorizationPolicies.length)
                    for (let i = 0; i < message.authorizationPolicies.length; ++i)
                        writer.uint32(/* id 16, wireType 2 =*/130).string(message.authorizationPolicies[i]);
                if (message.status != null && $Object.hasOwnProperty.call(message, "status") && message.status !== 0)
                    writer.uint32(/* id 17, wireType 0 =*/136).int32(message.status);
                if (message.clusterId != null && $Object.hasOwnProperty.call(message, "clusterId") && message.clusterId !== "")
                    writer.uint32(/* id 18, wireType 2 =*/146).string(message.clusterId);
                if (message.networkGateway != null && $Object.hasOwnProperty.call(message, "networkGateway"))
                    $root.istio.workload.GatewayAddress.encode(message.networkGateway, writer.uint32(/* id 19, wireType 2 =*/154).fork(), _depth + 1).ldelim();
                if (message.uid != null && $Object.hasOwnProperty.call(message, "uid") && message.uid !== "")
                    writer.uint32(/* id 20, wireType 2 =*/162).string(message.uid);
                if (message.hostname != null && $Object.hasOwnProperty.call(message, "hostname") && message.hostname !== "")
                    writer.uint32(/* id 21, wireType 2 =*/170).string(message.hostname);
                if (message.services != null && $Object.hasOwnProperty.call(message, "services"))
                    for (let keys = $Object.keys(message.services), i = 0; i < keys.length; ++i) {
                        writer.uint32(/* id 22, wireType 2 =*/178).fork().uint32(/* id 1, wireType 2 =*/10).string(keys[i]);
                        $root.istio.workload.PortList.encode(message.services[keys[i]], writer.uint32(/* id 2, wireType 2 =*/18).fork(), _depth + 1).ldelim().ldelim();
                    }
                if (message.applicationTunnel != null && $Object.hasOwnProperty.call(message, "applicationTunnel"))
                    $root.istio.workload.ApplicationTunnel.encode(message.applicationTunnel, writer.uint32(/* id 23, wireType 2 =*/186).fork(), _depth + 1).ldelim();
                if (message.locality != null && $Object.hasOwnProperty.call(message, "locality"))
                    $root.istio.workload.Locality.encode(message.locality, writer.uint32(/* id 24, wireType 2 =*/194).fork(), _depth + 1).ldelim();
                if (message.networkMode != null && $Object.hasOwnProperty.call(message, "networkMode") && message.networkMode !== 0)
                    writer.uint32(/* id 25, wireType 0 =*/200).int32(message.networkMode);
                if (message.extensions != null && message.extensions.length)
                    for (let i = 0; i < message.extensions.length; ++i)
                        $root.istio.workload.Extension.encode(message.extensions[i], writer.uint32(/* id 26, wireType 2 =*/210).fork(), _depth + 1).ldelim();
                if (message.capacity != null && $Object.hasOwnProperty.call(message, "capacity"))
                    $root.google.protobuf.UInt32Value.encode(message.capacity, writer.uint32(/* id 27, wireType 2 =*/218).fork(), _depth + 1).ldelim();
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes a Workload message from the specified reader or buffer.
             * @function decode
             * @memberof istio.workload.Workload
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {istio.workload.Workload & istio.workload.Workload.$Shape} Workload
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            Workload.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, key, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.istio.workload.Workload();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 20: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.uid = value;
                            else
                                delete message.uid;
                            continue;
                        }
                    case 1: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.name = value;
                            else
                                delete message.name;
                            continue;
                        }
                    case 2: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.namespace = value;
                            else
                                delete message.namespace;
                            continue;
                        }
                    case 3: {
                            if (wireType !== 2)
                                break;
                            if (!(message.addresses && message.addresses.length))
                                message.addresses = [];
                            message.addresses.push(reader.bytes());
                            continue;
                        }
                    case 21: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.hostname = value;
                            else
                                delete message.hostname;
                            continue;
                        }
                    case 4: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.network = value;
                            else
                                delete message.network;
                            continue;
                        }
                    case 5: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.int32())
                                message.tunnelProtocol = value;
                            else
                                delete message.tunnelProtocol;
                            continue;
                        }
                    case 6: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.trustDomain = value;
                            else
                                delete message.trustDomain;
                            continue;
                        }
                    case 7: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.serviceAccount = value;
                            else
                                delete message.serviceAccount;
                            continue;
                        }
                    case 8: {
                            if (wireType !== 2)
                                break;
                            message.waypoint = $root.istio.workload.GatewayAddress.decode(reader, reader.size(), $undefined, _depth + 1, message.waypoint);
                            continue;
                        }
                    case 19: {
                            if (wireType !== 2)
                                break;
                            message.networkGateway = $root.istio.workload.GatewayAddress.decode(reader, reader.size(), $undefined, _depth + 1, message.networkGateway);
                            continue;
                        }
                    case 9: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.node = value;
                            else
                                delete message.node;
                            continue;
                        }
                    case 10: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.canonicalName = value;
                            else
                                delete message.canonicalName;
                            continue;
                        }
                    case 11: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.canonicalRevision = value;
                            else
                                delete message.canonicalRevision;
                            continue;
                        }
                    case 12: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.int32())
                                message.workloadType = value;
                            else
                                delete message.workloadType;
                            continue;
                        }
                    case 13: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.workloadName = value;
                            else
                                delete message.workloadName;
                            continue;
                        }
                    case 14: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.bool())
                                message.nativeTunnel = value;
                            else
                                delete message.nativeTunnel;
                            continue;
                        }
                    case 23: {
                            if (wireType !== 2)
                                break;
                            message.applicationTunnel = $root.istio.workload.ApplicationTunnel.decode(reader, reader.size(), $undefined, _depth + 1, message.applicationTunnel);
                            continue;
                        }
                    case 22: {
                            if (wireType !== 2)
                                break;
                            if (message.services === $util.emptyObject)
                                message.services = {};
                            let end2 = reader.size() + reader.pos;
                            if (end2 > reader.len)
                                throw $RangeError("index out of range");
                            reader.len = end2;
                            key = "";
                            value = null;
                            while (reader.pos < end2) {
                                let tag2 = reader.tag();
                                wireType = tag2 & 7;
                                switch (tag2 >>>= 3) {
                                case 1:
                                    if (wireType !== 2)
                                        break;
                                    key = reader.stringVerify();
                                    continue;
                                case 2:
                                    if (wireType !== 2)
                                        break;
                                    value = $root.istio.workload.PortList.decode(reader, reader.size(), $undefined, _depth + 1, value);
                                    continue;
                                }
                                reader.skipType(wireType, _depth, tag2);
                            }
                            if (reader.pos !== end2)
                                throw $RangeError("index out of range");
                            reader.len = end;
                            if (key === "__proto__")
                                $util.makeProp(message.services, key);
                            message.services[key] = value || new $root.istio.workload.PortList();
                            continue;
                        }
                    case 16: {
                            if (wireType !== 2)
                                break;
                            if (!(message.authorizationPolicies && message.authorizationPolicies.length))
                                message.authorizationPolicies = [];
                            message.authorizationPolicies.push(reader.stringVerify());
                            continue;
                        }
                    case 17: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.int32())
                                message.status = value;
                            else
                                delete message.status;
                            continue;
                        }
                    case 18: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.clusterId = value;
                            else
                                delete message.clusterId;
                            continue;
                        }
                    case 24: {
                            if (wireType !== 2)
                                break;
                            message.locality = $root.istio.workload.Locality.decode(reader, reader.size(), $undefined, _depth + 1, message.locality);
                            continue;
                        }
                    case 25: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.int32())
                                message.networkMode = value;
                            else
                                delete message.networkMode;
                            continue;
                        }
                    case 26: {
                            if (wireType !== 2)
                                break;
                            if (!(message.extensions && message.extensions.length))
                                message.extensions = [];
                            message.extensions.push($root.istio.workload.Extension.decode(reader, reader.size(), $undefined, _depth + 1));
                            continue;
                        }
                    case 27: {
                            if (wireType !== 2)
                                break;
                            message.capacity = $root.google.protobuf.UInt32Value.decode(reader, reader.size(), $undefined, _depth + 1, message.capacity);
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Gets the type url for Workload
             * @function getTypeUrl
             * @memberof istio.workload.Workload
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            Workload.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/istio.workload.Workload";
            };

            return Workload;
        })();

        workload.Locality = (function() {

            /**
             * Properties of a Locality.
             * @typedef {Object} istio.workload.Locality.$Properties
             * @property {string|null} [region] Locality region
             * @property {string|null} [zone] Locality zone
             * @property {string|null} [subzone] Locality subzone
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a Locality.
             * @memberof istio.workload
             * @interface ILocality
             * @augments istio.workload.Locality.$Properties
             * @deprecated Use istio.workload.Locality.$Properties instead.
             */

            /**
             * Shape of a Locality.
             * @typedef {istio.workload.Locality.$Properties} istio.workload.Locality.$Shape
             */

            /**
             * Constructs a new Locality.
             * @memberof istio.workload
             * @classdesc Represents a Locality.
             * @constructor
             * @param {istio.workload.Locality.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const Locality = function (properties) {
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * Locality region.
             * @member {string} region
             * @memberof istio.workload.Locality
             * @instance
             */
            Locality.prototype.region = "";

            /**
             * Locality zone.
             * @member {string} zone
             * @memberof istio.workload.Locality
             * @instance
             */
            Locality.prototype.zone = "";

            /**
             * Locality subzone.
             * @member {string} subzone
             * @memberof istio.workload.Locality
             * @instance
             */
            Locality.prototype.subzone = "";

            /**
             * Creates a new Locality instance using the specified properties.
             * @function create
             * @memberof istio.workload.Locality
             * @static
             * @param {istio.workload.Locality.$Properties=} [properties] Properties to set
             * @returns {istio.workload.Locality} Locality instance
             * @type {{
             *   (properties: istio.workload.Locality.$Shape): istio.workload.Locality & istio.workload.Locality.$Shape;
             *   (properties?: istio.workload.Locality.$Properties): istio.workload.Locality;
             * }}
             */
            Locality.create = function(properties) {
                return new Locality(properties);
            };

            /**
             * Encodes the specified Locality message. Does not implicitly {@link istio.workload.Locality.verify|verify} messages.
             * @function encode
             * @memberof istio.workload.Locality
             * @static
             * @param {istio.workload.Locality.$Properties} message Locality message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            Locality.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.region != null && $Object.hasOwnProperty.call(message, "region") && message.region !== "")
                    writer.uint32(/* id 1, wireType 2 =*/10).string(message.region);
                if (message.zone != null && $Object.hasOwnProperty.call(message, "zone") && message.zone !== "")
                    writer.uint32(/* id 2, wireType 2 =*/18).string(message.zone);
                if (message.subzone != null && $Object.hasOwnProperty.call(message, "subzone") && message.subzone !== "")
                    writer.uint32(/* id 3, wireType 2 =*/26).string(message.subzone);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes a Locality message from the specified reader or buffer.
             * @function decode
             * @memberof istio.workload.Locality
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {istio.workload.Locality & istio.workload.Locality.$Shape} Locality
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            Locality.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.istio.workload.Locality();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.region = value;
                            else
                                delete message.region;
                            continue;
                        }
                    case 2: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.zone = value;
                            else
                                delete message.zone;
                            continue;
                        }
                    case 3: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.subzone = value;
                            else
                                delete message.subzone;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Gets the type url for Locality
             * @function getTypeUrl
             * @memberof istio.workload.Locality
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            Locality.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/istio.workload.Locality";
            };

            return Locality;
        })();

        /**
         * WorkloadStatus enum.
         * @name istio.workload.WorkloadStatus
         * @enum {number}
         * @property {number} HEALTHY=0 HEALTHY value
         * @property {number} UNHEALTHY=1 UNHEALTHY value
         */
        workload.WorkloadStatus = (function() {
            const valuesById = $Object.create(null), values = $Object.create(valuesById);
            values[valuesById[0] = "HEALTHY"] = 0;
            values[valuesById[1] = "UNHEALTHY"] = 1;
            return values;
        })();

        /**
         * WorkloadType enum.
         * @name istio.workload.WorkloadType
         * @enum {number}
         * @property {number} DEPLOYMENT=0 DEPLOYMENT value
         * @property {number} CRONJOB=1 CRONJOB value
         * @property {number} POD=2 POD value
         * @property {number} JOB=3 JOB value
         */
        workload.WorkloadType = (function() {
            const valuesById = $Object.create(null), values = $Object.create(valuesById);
            values[valuesById[0] = "DEPLOYMENT"] = 0;
            values[valuesById[1] = "CRONJOB"] = 1;
            values[valuesById[2] = "POD"] = 2;
            values[valuesById[3] = "JOB"] = 3;
            return values;
        })();

        /**
         * TunnelProtocol enum.
         * @name istio.workload.TunnelProtocol
         * @enum {number}
         * @property {number} NONE=0 NONE value
         * @property {number} HBONE=1 HBONE value
         * @property {number} LEGACY_ISTIO_MTLS=2 LEGACY_ISTIO_MTLS value
         */
        workload.TunnelProtocol = (function() {
            const valuesById = $Object.create(null), values = $Object.create(valuesById);
            values[valuesById[0] = "NONE"] = 0;
            values[valuesById[1] = "HBONE"] = 1;
            values[valuesById[2] = "LEGACY_ISTIO_MTLS"] = 2;
            return values;
        })();

        workload.ApplicationTunnel = (function() {

            /**
             * Properties of an ApplicationTunnel.
             * @typedef {Object} istio.workload.ApplicationTunnel.$Properties
             * @property {istio.workload.ApplicationTunnel.Protocol|null} [protocol] ApplicationTunnel protocol
             * @property {number|null} [port] ApplicationTunnel port
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of an ApplicationTunnel.
             * @memberof istio.workload
             * @interface IApplicationTunnel
             * @augments istio.workload.ApplicationTunnel.$Properties
             * @deprecated Use istio.workload.ApplicationTunnel.$Properties instead.
             */

            /**
             * Shape of an ApplicationTunnel.
             * @typedef {istio.workload.ApplicationTunnel.$Properties} istio.workload.ApplicationTunnel.$Shape
             */

            /**
             * Constructs a new ApplicationTunnel.
             * @memberof istio.workload
             * @classdesc Represents an ApplicationTunnel.
             * @constructor
             * @param {istio.workload.ApplicationTunnel.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const ApplicationTunnel = function (properties) {
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * ApplicationTunnel protocol.
             * @member {istio.workload.ApplicationTunnel.Protocol} protocol
             * @memberof istio.workload.ApplicationTunnel
             * @instance
             */
            ApplicationTunnel.prototype.protocol = 0;

            /**
             * ApplicationTunnel port.
             * @member {number} port
             * @memberof istio.workload.ApplicationTunnel
             * @instance
             */
            ApplicationTunnel.prototype.port = 0;

            /**
             * Creates a new ApplicationTunnel instance using the specified properties.
             * @function create
             * @memberof istio.workload.ApplicationTunnel
             * @static
             * @param {istio.workload.ApplicationTunnel.$Properties=} [properties] Properties to set
             * @returns {istio.workload.ApplicationTunnel} ApplicationTunnel instance
             * @type {{
             *   (properties: istio.workload.ApplicationTunnel.$Shape): istio.workload.ApplicationTunnel & istio.workload.ApplicationTunnel.$Shape;
             *   (properties?: istio.workload.ApplicationTunnel.$Properties): istio.workload.ApplicationTunnel;
             * }}
             */
            ApplicationTunnel.create = function(properties) {
                return new ApplicationTunnel(properties);
            };

            /**
             * Encodes the specified ApplicationTunnel message. Does not implicitly {@link istio.workload.ApplicationTunnel.verify|verify} messages.
             * @function encode
             * @memberof istio.workload.ApplicationTunnel
             * @static
             * @param {istio.workload.ApplicationTunnel.$Properties} message ApplicationTunnel message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            ApplicationTunnel.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.protocol != null && $Object.hasOwnProperty.call(message, "protocol") && message.protocol !== 0)
                    writer.uint32(/* id 1, wireType 0 =*/8).int32(message.protocol);
                if (message.port != null && $Object.hasOwnProperty.call(message, "port") && message.port !== 0)
                    writer.uint32(/* id 2, wireType 0 =*/16).uint32(message.port);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes an ApplicationTunnel message from the specified reader or buffer.
             * @function decode
             * @memberof istio.workload.ApplicationTunnel
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {istio.workload.ApplicationTunnel & istio.workload.ApplicationTunnel.$Shape} ApplicationTunnel
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            ApplicationTunnel.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.istio.workload.ApplicationTunnel();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.int32())
                                message.protocol = value;
                            else
                                delete message.protocol;
                            continue;
                        }
                    case 2: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.uint32())
                                message.port = value;
                            else
                                delete message.port;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Gets the type url for ApplicationTunnel
             * @function getTypeUrl
             * @memberof istio.workload.ApplicationTunnel
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            ApplicationTunnel.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/istio.workload.ApplicationTunnel";
            };

            /**
             * Protocol enum.
             * @name istio.workload.ApplicationTunnel.Protocol
             * @enum {number}
             * @property {number} NONE=0 NONE value
             * @property {number} PROXY=1 PROXY value
             */
            ApplicationTunnel.Protocol = (function() {
                const valuesById = $Object.create(null), values = $Object.create(valuesById);
                values[valuesById[0] = "NONE"] = 0;
                values[valuesById[1] = "PROXY"] = 1;
                return values;
            })();

            return ApplicationTunnel;
        })();

        workload.PortList = (function() {

            /**
             * Properties of a PortList.
             * @typedef {Object} istio.workload.PortList.$Properties
             * @property {Array.<istio.workload.Port.$Properties>|null} [ports] PortList ports
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a PortList.
             * @memberof istio.workload
             * @interface IPortList
             * @augments istio.workload.PortList.$Properties
             * @deprecated Use istio.workload.PortList.$Properties instead.
             */

            /**
             * Shape of a PortList.
             * @typedef {istio.workload.PortList.$Properties} istio.workload.PortList.$Shape
             */

            /**
             * Constructs a new PortList.
             * @memberof istio.workload
             * @classdesc Represents a PortList.
             * @constructor
             * @param {istio.workload.PortList.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const PortList = function (properties) {
                this.ports = [];
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * PortList ports.
             * @member {Array.<istio.workload.Port.$Properties>} ports
             * @memberof istio.workload.PortList
             * @instance
             */
            PortList.prototype.ports = $util.emptyArray;

            /**
             * Creates a new PortList instance using the specified properties.
             * @function create
             * @memberof istio.workload.PortList
             * @static
             * @param {istio.workload.PortList.$Properties=} [properties] Properties to set
             * @returns {istio.workload.PortList} PortList instance
             * @type {{
             *   (properties: istio.workload.PortList.$Shape): istio.workload.PortList & istio.workload.PortList.$Shape;
             *   (properties?: istio.workload.PortList.$Properties): istio.workload.PortList;
             * }}
             */
            PortList.create = function(properties) {
                return new PortList(properties);
            };

            /**
             * Encodes the specified PortList message. Does not implicitly {@link istio.workload.PortList.verify|verify} messages.
             * @function encode
             * @memberof istio.workload.PortList
             * @static
             * @param {istio.workload.PortList.$Properties} message PortList message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            PortList.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.ports != null && message.ports.length)
                    for (let i = 0; i < message.ports.length; ++i)
                        $root.istio.workload.Port.encode(message.ports[i], writer.uint32(/* id 1, wireType 2 =*/10).fork(), _depth + 1).ldelim();
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes a PortList message from the specified reader or buffer.
             * @function decode
             * @memberof istio.workload.PortList
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {istio.workload.PortList & istio.workload.PortList.$Shape} PortList
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            PortList.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.istio.workload.PortList();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            if (!(message.ports && message.ports.length))
                                message.ports = [];
                            message.ports.push($root.istio.workload.Port.decode(reader, reader.size(), $undefined, _depth + 1));
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Gets the type url for PortList
             * @function getTypeUrl
             * @memberof istio.workload.PortList
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            PortList.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/istio.workload.PortList";
            };

            return PortList;
        })();

        workload.Port = (function() {

            /**
             * Properties of a Port.
             * @typedef {Object} istio.workload.Port.$Properties
             * @property {number|null} [servicePort] Port servicePort
             * @property {number|null} [targetPort] Port targetPort
             * @property {istio.workload.AppProtocol|null} [appProtocol] Port appProtocol
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a Port.
             * @memberof istio.workload
             * @interface IPort
             * @augments istio.workload.Port.$Properties
             * @deprecated Use istio.workload.Port.$Properties instead.
             */

            /**
             * Shape of a Port.
             * @typedef {istio.workload.Port.$Properties} istio.workload.Port.$Shape
             */

            /**
             * Constructs a new Port.
             * @memberof istio.workload
             * @classdesc Represents a Port.
             * @constructor
             * @param {istio.workload.Port.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const Port = function (properties) {
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * Port servicePort.
             * @member {number} servicePort
             * @memberof istio.workload.Port
             * @instance
             */
            Port.prototype.servicePort = 0;

            /**
             * Port targetPort.
             * @member {number} targetPort
             * @memberof istio.workload.Port
             * @instance
             */
            Port.prototype.targetPort = 0;

            /**
             * Port appProtocol.
             * @member {istio.workload.AppProtocol} appProtocol
             * @memberof istio.workload.Port
             * @instance
             */
            Port.prototype.appProtocol = 0;

            /**
             * Creates a new Port instance using the specified properties.
             * @function create
             * @memberof istio.workload.Port
             * @static
             * @param {istio.workload.Port.$Properties=} [properties] Properties to set
             * @returns {istio.workload.Port} Port instance
             * @type {{
             *   (properties: istio.workload.Port.$Shape): istio.workload.Port & istio.workload.Port.$Shape;
             *   (properties?: istio.workload.Port.$Properties): istio.workload.Port;
             * }}
             */
            Port.create = function(properties) {
                return new Port(properties);
            };

            /**
             * Encodes the specified Port message. Does not implicitly {@link istio.workload.Port.verify|verify} messages.
             * @function encode
             * @memberof istio.workload.Port
             * @static
             * @param {istio.workload.Port.$Properties} message Port message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            Port.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.servicePort != null && $Object.hasOwnProperty.call(message, "servicePort") && message.servicePort !== 0)
                    writer.uint32(/* id 1, wireType 0 =*/8).uint32(message.servicePort);
                if (message.targetPort != null && $Object.hasOwnProperty.call(message, "targetPort") && message.targetPort !== 0)
                    writer.uint32(/* id 2, wireType 0 =*/16).uint32(message.targetPort);
                if (message.appProtocol != null && $Object.hasOwnProperty.call(message, "appProtocol") && message.appProtocol !== 0)
                    writer.uint32(/* id 3, wireType 0 =*/24).int32(message.appProtocol);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes a Port message from the specified reader or buffer.
             * @function decode
             * @memberof istio.workload.Port
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {istio.workload.Port & istio.workload.Port.$Shape} Port
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            Port.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.istio.workload.Port();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.uint32())
                                message.servicePort = value;
                            else
                                delete message.servicePort;
                            continue;
                        }
                    case 2: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.uint32())
                                message.targetPort = value;
                            else
                                delete message.targetPort;
                            continue;
                        }
                    case 3: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.int32())
                                message.appProtocol = value;
                            else
                                delete message.appProtocol;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Gets the type url for Port
             * @function getTypeUrl
             * @memberof istio.workload.Port
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            Port.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/istio.workload.Port";
            };

            return Port;
        })();

        /**
         * AppProtocol enum.
         * @name istio.workload.AppProtocol
         * @enum {number}
         * @property {number} UNKNOWN=0 UNKNOWN value
         * @property {number} HTTP11=1 HTTP11 value
         * @property {number} HTTP2=2 HTTP2 value
         * @property {number} GRPC=3 GRPC value
         */
        workload.AppProtocol = (function() {
            const valuesById = $Object.create(null), values = $Object.create(valuesById);
            values[valuesById[0] = "UNKNOWN"] = 0;
            values[valuesById[1] = "HTTP11"] = 1;
            values[valuesById[2] = "HTTP2"] = 2;
            values[valuesById[3] = "GRPC"] = 3;
            return values;
        })();

        workload.GatewayAddress = (function() {

            /**
             * Properties of a GatewayAddress.
             * @typedef {Object} istio.workload.GatewayAddress.$Properties
             * @property {istio.workload.NamespacedHostname.$Properties|null} [hostname] GatewayAddress hostname
             * @property {istio.workload.NetworkAddress.$Properties|null} [address] GatewayAddress address
             * @property {number|null} [hboneMtlsPort] GatewayAddress hboneMtlsPort
             * @property {"hostname"|"address"} [destination] GatewayAddress destination
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a GatewayAddress.
             * @memberof istio.workload
             * @interface IGatewayAddress
             * @augments istio.workload.GatewayAddress.$Properties
             * @deprecated Use istio.workload.GatewayAddress.$Properties instead.
             */

            /**
             * Narrowed shape of a GatewayAddress.
             * @typedef {{
             *   hostname?: istio.workload.NamespacedHostname.$Shape|null;
             *   address?: istio.workload.NetworkAddress.$Shape|null;
             *   hboneMtlsPort?: number|null;
             *   $unknowns?: Array.<Uint8Array>;
             * } & (
             *   ({ destination?: undefined; hostname?: null; address?: null }|{ destination?: "hostname"; hostname: istio.workload.NamespacedHostname.$Shape; address?: null }|{ destination?: "address"; hostname?: null; address: istio.workload.NetworkAddress.$Shape })
             * )} istio.workload.GatewayAddress.$Shape
             */

            /**
             * Constructs a new GatewayAddress.
             * @memberof istio.workload
             * @classdesc Represents a GatewayAddress.
             * @constructor
             * @param {istio.workload.GatewayAddress.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const GatewayAddress = function (properties) {
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * GatewayAddress hostname.
             * @member {istio.workload.NamespacedHostname.$Properties|null|undefined} hostname
             * @memberof istio.workload.GatewayAddress
             * @instance
             */
            GatewayAddress.prototype.hostname = null;

            /**
             * GatewayAddress address.
             * @member {istio.workload.NetworkAddress.$Properties|null|undefined} address
             * @memberof istio.workload.GatewayAddress
             * @instance
             */
            GatewayAddress.prototype.address = null;

            /**
             * GatewayAddress hboneMtlsPort.
             * @member {number} hboneMtlsPort
             * @memberof istio.workload.GatewayAddress
             * @instance
             */
            GatewayAddress.prototype.hboneMtlsPort = 0;

            // OneOf field names bound to virtual getters and setters
            let $oneOfFields;

            /**
             * GatewayAddress destination.
             * @member {"hostname"|"address"|undefined} destination
             * @memberof istio.workload.GatewayAddress
             * @instance
             */
            $Object.defineProperty(GatewayAddress.prototype, "destination", {
                get: $util.oneOfGetter($oneOfFields = ["hostname", "address"]),
                set: $util.oneOfSetter($oneOfFields)
            });

            /**
             * Creates a new GatewayAddress instance using the specified properties.
             * @function create
             * @memberof istio.workload.GatewayAddress
             * @static
             * @param {istio.workload.GatewayAddress.$Properties=} [properties] Properties to set
             * @returns {istio.workload.GatewayAddress} GatewayAddress instance
             * @type {{
             *   (properties: istio.workload.GatewayAddress.$Shape): istio.workload.GatewayAddress & istio.workload.GatewayAddress.$Shape;
             *   (properties?: istio.workload.GatewayAddress.$Properties): istio.workload.GatewayAddress;
             * }}
             */
            GatewayAddress.create = function(properties) {
                return new GatewayAddress(properties);
            };

            /**
             * Encodes the specified GatewayAddress message. Does not implicitly {@link istio.workload.GatewayAddress.verify|verify} messages.
             * @function encode
             * @memberof istio.workload.GatewayAddress
             * @static
             * @param {istio.workload.GatewayAddress.$Properties} message GatewayAddress message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            GatewayAddress.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.hostname != null && $Object.hasOwnProperty.call(message, "hostname"))
                    $root.istio.workload.NamespacedHostname.encode(message.hostname, writer.uint32(/* id 1, wireType 2 =*/10).fork(), _depth + 1).ldelim();
                if (message.address != null && $Object.hasOwnProperty.call(message, "address"))
                    $root.istio.workload.NetworkAddress.encode(message.address, writer.uint32(/* id 2, wireType 2 =*/18).fork(), _depth + 1).ldelim();
                if (message.hboneMtlsPort != null && $Object.hasOwnProperty.call(message, "hboneMtlsPort") && message.hboneMtlsPort !== 0)
                    writer.uint32(/* id 3, wireType 0 =*/24).uint32(message.hboneMtlsPort);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes a GatewayAddress message from the specified reader or buffer.
             * @function decode
             * @memberof istio.workload.GatewayAddress
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {istio.workload.GatewayAddress & istio.workload.GatewayAddress.$Shape} GatewayAddress
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            GatewayAddress.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.istio.workload.GatewayAddress();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            message.hostname = $root.istio.workload.NamespacedHostname.decode(reader, reader.size(), $undefined, _depth + 1, message.hostname);
                            message.destination = "hostname";
                            continue;
                        }
                    case 2: {
                            if (wireType !== 2)
                                break;
                            message.address = $root.istio.workload.NetworkAddress.decode(reader, reader.size(), $undefined, _depth + 1, message.address);
                            message.destination = "address";
                            continue;
                        }
                    case 3: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.uint32())
                                message.hboneMtlsPort = value;
                            else
                                delete message.hboneMtlsPort;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Gets the type url for GatewayAddress
             * @function getTypeUrl
             * @memberof istio.workload.GatewayAddress
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            GatewayAddress.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/istio.workload.GatewayAddress";
            };

            return GatewayAddress;
        })();

        workload.NetworkAddress = (function() {

            /**
             * Properties of a NetworkAddress.
             * @typedef {Object} istio.workload.NetworkAddress.$Properties
             * @property {string|null} [network] NetworkAddress network
             * @property {Uint8Array|null} [address] NetworkAddress address
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a NetworkAddress.
             * @memberof istio.workload
             * @interface INetworkAddress
             * @augments istio.workload.NetworkAddress.$Properties
             * @deprecated Use istio.workload.NetworkAddress.$Properties instead.
             */

            /**
             * Shape of a NetworkAddress.
             * @typedef {istio.workload.NetworkAddress.$Properties} istio.workload.NetworkAddress.$Shape
             */

            /**
             * Constructs a new NetworkAddress.
             * @memberof istio.workload
             * @classdesc Represents a NetworkAddress.
             * @constructor
             * @param {istio.workload.NetworkAddress.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const NetworkAddress = function (properties) {
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * NetworkAddress network.
             * @member {string} network
             * @memberof istio.workload.NetworkAddress
             * @instance
             */
            NetworkAddress.prototype.network = "";

            /**
             * NetworkAddress address.
             * @member {Uint8Array} address
             * @memberof istio.workload.NetworkAddress
             * @instance
             */
            NetworkAddress.prototype.address = $util.newBuffer([]);

            /**
             * Creates a new NetworkAddress instance using the specified properties.
             * @function create
             * @memberof istio.workload.NetworkAddress
             * @static
             * @param {istio.workload.NetworkAddress.$Properties=} [properties] Properties to set
             * @returns {istio.workload.NetworkAddress} NetworkAddress instance
             * @type {{
             *   (properties: istio.workload.NetworkAddress.$Shape): istio.workload.NetworkAddress & istio.workload.NetworkAddress.$Shape;
             *   (properties?: istio.workload.NetworkAddress.$Properties): istio.workload.NetworkAddress;
             * }}
             */
            NetworkAddress.create = function(properties) {
                return new NetworkAddress(properties);
            };

            /**
             * Encodes the specified NetworkAddress message. Does not implicitly {@link istio.workload.NetworkAddress.verify|verify} messages.
             * @function encode
             * @memberof istio.workload.NetworkAddress
             * @static
             * @param {istio.workload.NetworkAddress.$Properties} message NetworkAddress message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            NetworkAddress.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.network != null && $Object.hasOwnProperty.call(message, "network") && message.network !== "")
                    writer.uint32(/* id 1, wireType 2 =*/10).string(message.network);
                if (message.address != null && $Object.hasOwnProperty.call(message, "address") && message.address.length)
                    writer.uint32(/* id 2, wireType 2 =*/18).bytes(message.address);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes a NetworkAddress message from the specified reader or buffer.
             * @function decode
             * @memberof istio.workload.NetworkAddress
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {istio.workload.NetworkAddress & istio.workload.NetworkAddress.$Shape} NetworkAddress
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            NetworkAddress.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.istio.workload.NetworkAddress();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.network = value;
                            else
                                delete message.network;
                            continue;
                        }
                    case 2: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.bytes()).length)
                                message.address = value;
                            else
                                delete message.address;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Gets the type url for NetworkAddress
             * @function getTypeUrl
             * @memberof istio.workload.NetworkAddress
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            NetworkAddress.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/istio.workload.NetworkAddress";
            };

            return NetworkAddress;
        })();

        workload.NamespacedHostname = (function() {

            /**
             * Properties of a NamespacedHostname.
             * @typedef {Object} istio.workload.NamespacedHostname.$Properties
             * @property {string|null} [namespace] NamespacedHostname namespace
             * @property {string|null} [hostname] NamespacedHostname hostname
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a NamespacedHostname.
             * @memberof istio.workload
             * @interface INamespacedHostname
             * @augments istio.workload.NamespacedHostname.$Properties
             * @deprecated Use istio.workload.NamespacedHostname.$Properties instead.
             */

            /**
             * Shape of a NamespacedHostname.
             * @typedef {istio.workload.NamespacedHostname.$Properties} istio.workload.NamespacedHostname.$Shape
             */

            /**
             * Constructs a new NamespacedHostname.
             * @memberof istio.workload
             * @classdesc Represents a NamespacedHostname.
             * @constructor
             * @param {istio.workload.NamespacedHostname.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const NamespacedHostname = function (properties) {
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * NamespacedHostname namespace.
             * @member {string} namespace
             * @memberof istio.workload.NamespacedHostname
             * @instance
             */
            NamespacedHostname.prototype.namespace = "";

            /**
             * NamespacedHostname hostname.
             * @member {string} hostname
             * @memberof istio.workload.NamespacedHostname
             * @instance
             */
            NamespacedHostname.prototype.hostname = "";

            /**
             * Creates a new NamespacedHostname instance using the specified properties.
             * @function create
             * @memberof istio.workload.NamespacedHostname
             * @static
             * @param {istio.workload.NamespacedHostname.$Properties=} [properties] Properties to set
             * @returns {istio.workload.NamespacedHostname} NamespacedHostname instance
             * @type {{
             *   (properties: istio.workload.NamespacedHostname.$Shape): istio.workload.NamespacedHostname & istio.workload.NamespacedHostname.$Shape;
             *   (properties?: istio.workload.NamespacedHostname.$Properties): istio.workload.NamespacedHostname;
             * }}
             */
            NamespacedHostname.create = function(properties) {
                return new NamespacedHostname(properties);
            };

            /**
             * Encodes the specified NamespacedHostname message. Does not implicitly {@link istio.workload.NamespacedHostname.verify|verify} messages.
             * @function encode
             * @memberof istio.workload.NamespacedHostname
             * @static
             * @param {istio.workload.NamespacedHostname.$Properties} message NamespacedHostname message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            NamespacedHostname.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.namespace != null && $Object.hasOwnProperty.call(message, "namespace") && message.namespace !== "")
                    writer.uint32(/* id 1, wireType 2 =*/10).string(message.namespace);
                if (message.hostname != null && $Object.hasOwnProperty.call(message, "hostname") && message.hostname !== "")
                    writer.uint32(/* id 2, wireType 2 =*/18).string(message.hostname);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes a NamespacedHostname message from the specified reader or buffer.
             * @function decode
             * @memberof istio.workload.NamespacedHostname
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {istio.workload.NamespacedHostname & istio.workload.NamespacedHostname.$Shape} NamespacedHostname
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            NamespacedHostname.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.istio.workload.NamespacedHostname();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.namespace = value;
                            else
                                delete message.namespace;
                            continue;
                        }
                    case 2: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.hostname = value;
                            else
                                delete message.hostname;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Gets the type url for NamespacedHostname
             * @function getTypeUrl
             * @memberof istio.workload.NamespacedHostname
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            NamespacedHostname.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/istio.workload.NamespacedHostname";
            };

            return NamespacedHostname;
        })();

        workload.Extension = (function() {

            /**
             * Properties of an Extension.
             * @typedef {Object} istio.workload.Extension.$Properties
             * @property {string|null} [name] Extension name
             * @property {google.protobuf.Any.$Properties|null} [config] Extension config
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of an Extension.
             * @memberof istio.workload
             * @interface IExtension
             * @augments istio.workload.Extension.$Properties
             * @deprecated Use istio.workload.Extension.$Properties instead.
             */

            /**
             * Shape of an Extension.
             * @typedef {istio.workload.Extension.$Properties} istio.workload.Extension.$Shape
             */

            /**
             * Constructs a new Extension.
             * @memberof istio.workload
             * @classdesc Represents an Extension.
             * @constructor
             * @param {istio.workload.Extension.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const Extension = function (properties) {
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * Extension name.
             * @member {string} name
             * @memberof istio.workload.Extension
             * @instance
             */
            Extension.prototype.name = "";

            /**
             * Extension config.
             * @member {google.protobuf.Any.$Properties|null|undefined} config
             * @memberof istio.workload.Extension
             * @instance
             */
            Extension.prototype.config = null;

            /**
             * Creates a new Extension instance using the specified properties.
             * @function create
             * @memberof istio.workload.Extension
             * @static
             * @param {istio.workload.Extension.$Properties=} [properties] Properties to set
             * @returns {istio.workload.Extension} Extension instance
             * @type {{
             *   (properties: istio.workload.Extension.$Shape): istio.workload.Extension & istio.workload.Extension.$Shape;
             *   (properties?: istio.workload.Extension.$Properties): istio.workload.Extension;
             * }}
             */
            Extension.create = function(properties) {
                return new Extension(properties);
            };

            /**
             * Encodes the specified Extension message. Does not implicitly {@link istio.workload.Extension.verify|verify} messages.
             * @function encode
             * @memberof istio.workload.Extension
             * @static
             * @param {istio.workload.Extension.$Properties} message Extension message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            Extension.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.name != null && $Object.hasOwnProperty.call(message, "name") && message.name !== "")
                    writer.uint32(/* id 1, wireType 2 =*/10).string(message.name);
                if (message.config != null && $Object.hasOwnProperty.call(message, "config"))
                    $root.google.protobuf.Any.encode(message.config, writer.uint32(/* id 2, wireType 2 =*/18).fork(), _depth + 1).ldelim();
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes an Extension message from the specified reader or buffer.
             * @function decode
             * @memberof istio.workload.Extension
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {istio.workload.Extension & istio.workload.Extension.$Shape} Extension
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            Extension.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.istio.workload.Extension();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.name = value;
                            else
                                delete message.name;
                            continue;
                        }
                    case 2: {
                            if (wireType !== 2)
                                break;
                            message.config = $root.google.protobuf.Any.decode(reader, reader.size(), $undefined, _depth + 1, message.config);
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Gets the type url for Extension
             * @function getTypeUrl
             * @memberof istio.workload.Extension
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            Extension.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/istio.workload.Extension";
            };

            return Extension;
        })();

        workload.zds = (function() {

            /**
             * Namespace zds.
             * @memberof istio.workload
             * @namespace
             */
            const zds = {};

            /**
             * Version enum.
             * @name istio.workload.zds.Version
             * @enum {number}
             * @property {number} NOT_USED=0 NOT_USED value
             * @property {number} V1=1 V1 value
             */
            zds.Version = (function() {
                const valuesById = $Object.create(null), values = $Object.create(valuesById);
                values[valuesById[0] = "NOT_USED"] = 0;
                values[valuesById[1] = "V1"] = 1;
                return values;
            })();

            zds.ZdsHello = (function() {

                /**
                 * Properties of a ZdsHello.
                 * @typedef {Object} istio.workload.zds.ZdsHello.$Properties
                 * @property {istio.workload.zds.Version|null} [version] ZdsHello version
                 * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
                 */

                /**
                 * Properties of a ZdsHello.
                 * @memberof istio.workload.zds
                 * @interface IZdsHello
                 * @augments istio.workload.zds.ZdsHello.$Properties
                 * @deprecated Use istio.workload.zds.ZdsHello.$Properties instead.
                 */

                /**
                 * Shape of a ZdsHello.
                 * @typedef {istio.workload.zds.ZdsHello.$Properties} istio.workload.zds.ZdsHello.$Shape
                 */

                /**
                 * Constructs a new ZdsHello.
                 * @memberof istio.workload.zds
                 * @classdesc Represents a ZdsHello.
                 * @constructor
                 * @param {istio.workload.zds.ZdsHello.$Properties=} [properties] Properties to set
                 * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
                 */
                const ZdsHello = function (properties) {
                    if (properties)
                        for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                            if (properties[keys[i]] != null && keys[i] !== "__proto__")
                                this[keys[i]] = properties[keys[i]];
                };

                /**
                 * ZdsHello version.
                 * @member {istio.workload.zds.Version} version
                 * @memberof istio.workload.zds.ZdsHello
                 * @instance
                 */
                ZdsHello.prototype.version = 0;

                /**
                 * Creates a new ZdsHello instance using the specified properties.
                 * @function create
                 * @memberof istio.workload.zds.ZdsHello
                 * @static
                 * @param {istio.workload.zds.ZdsHello.$Properties=} [properties] Properties to set
                 * @returns {istio.workload.zds.ZdsHello} ZdsHello instance
                 * @type {{
                 *   (properties: istio.workload.zds.ZdsHello.$Shape): istio.workload.zds.ZdsHello & istio.workload.zds.ZdsHello.$Shape;
                 *   (properties?: istio.workload.zds.ZdsHello.$Properties): istio.workload.zds.ZdsHello;
                 * }}
                 */
                ZdsHello.create = function(properties) {
                    return new ZdsHello(properties);
                };

                /**
                 * Encodes the specified ZdsHello message. Does not implicitly {@link istio.workload.zds.ZdsHello.verify|verify} messages.
                 * @function encode
                 * @memberof istio.workload.zds.ZdsHello
                 * @static
                 * @param {istio.workload.zds.ZdsHello.$Properties} message ZdsHello message or plain object to encode
                 * @param {$protobuf.Writer} [writer] Writer to encode to
                 * @returns {$protobuf.Writer} Writer
                 */
                ZdsHello.encode = function (message, writer, _depth) {
                    if (!writer)
                        writer = $Writer.create();
                    if (_depth === $undefined)
                        _depth = 0;
                    if (_depth > $util.recursionLimit)
                        throw $Error("max depth exceeded");
                    if (message.version != null && $Object.hasOwnProperty.call(message, "version") && message.version !== 0)
                        writer.uint32(/* id 1, wireType 0 =*/8).int32(message.version);
                    if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                        for (let i = 0; i < message.$unknowns.length; ++i)
                            writer.raw(message.$unknowns[i]);
                    return writer;
                };

                /**
                 * Decodes a ZdsHello message from the specified reader or buffer.
                 * @function decode
                 * @memberof istio.workload.zds.ZdsHello
                 * @static
                 * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
                 * @param {number} [length] Message length if known beforehand
                 * @returns {istio.workload.zds.ZdsHello & istio.workload.zds.ZdsHello.$Shape} ZdsHello
                 * @throws {Error} If the payload is not a reader or valid buffer
                 * @throws {$protobuf.util.ProtocolError} If required fields are missing
                 */
                ZdsHello.decode = function (reader, length, _end, _depth, _target) {
                    if (!(reader instanceof $Reader))
                        reader = $Reader.create(reader);
                    if (_depth === $undefined)
                        _depth = 0;
                    if (_depth > $Reader.recursionLimit)
                        throw $Error("max depth exceeded");
                    let end, message, value;
                    if (length === $undefined)
                        end = reader.len;
                    else {
                        end = reader.pos + length;
                        if (end > reader.len)
                            throw $RangeError("index out of range");
                        length = reader.len;
                        reader.len = end;
                    }
                    message = _target || new $root.istio.workload.zds.ZdsHello();
                    while (reader.pos < end) {
                        let start = reader.pos;
                        let tag = reader.tag();
                        if (tag === _end) {
                            _end = $undefined;
                            break;
                        }
                        let wireType = tag & 7;
                        switch (tag >>>= 3) {
                        case 1: {
                                if (wireType !== 0)
                                    break;
                                if (value = reader.int32())
                                    message.version = value;
                                else
                                    delete message.version;
                                continue;
                            }
                        }
                        reader.skipType(wireType, _depth, tag);
                        if (!reader.discardUnknown) {
                            $util.makeProp(message, "$unknowns", false);
                            (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                        }
                    }
                    if (length !== $undefined) {
                        if (reader.pos !== end)
                            throw $RangeError("index out of range");
                        reader.len = length;
                    }
                    if (_end !== $undefined)
                        throw $Error("missing end group");
                    return message;
                };

                /**
                 * Gets the type url for ZdsHello
                 * @function getTypeUrl
                 * @memberof istio.workload.zds.ZdsHello
                 * @static
                 * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
                 * @returns {string} The type url
                 */
                ZdsHello.getTypeUrl = function(prefix) {
                    if (prefix === $undefined)
                        prefix = "type.googleapis.com";
                    return prefix + "/istio.workload.zds.ZdsHello";
                };

                return ZdsHello;
            })();

            zds.WorkloadInfo = (function() {

                /**
                 * Properties of a WorkloadInfo.
                 * @typedef {Object} istio.workload.zds.WorkloadInfo.$Properties
                 * @property {string|null} [name] WorkloadInfo name
                 * @property {string|null} [namespace] WorkloadInfo namespace
                 * @property {string|null} [serviceAccount] WorkloadInfo serviceAccount
                 * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
                 */

                /**
                 * Properties of a WorkloadInfo.
                 * @memberof istio.workload.zds
                 * @interface IWorkloadInfo
                 * @augments istio.workload.zds.WorkloadInfo.$Properties
                 * @deprecated Use istio.workload.zds.WorkloadInfo.$Properties instead.
                 */

                /**
                 * Shape of a WorkloadInfo.
                 * @typedef {istio.workload.zds.WorkloadInfo.$Properties} istio.workload.zds.WorkloadInfo.$Shape
                 */

                /**
                 * Constructs a new WorkloadInfo.
                 * @memberof istio.workload.zds
                 * @classdesc Represents a WorkloadInfo.
                 * @constructor
                 * @param {istio.workload.zds.WorkloadInfo.$Properties=} [properties] Properties to set
                 * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
                 */
                const WorkloadInfo = function (properties) {
                    if (properties)
                        for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                            if (properties[keys[i]] != null && keys[i] !== "__proto__")
                                this[keys[i]] = properties[keys[i]];
                };

                /**
                 * WorkloadInfo name.
                 * @member {string} name
                 * @memberof istio.workload.zds.WorkloadInfo
                 * @instance
                 */
                WorkloadInfo.prototype.name = "";

                /**
                 * WorkloadInfo namespace.
                 * @member {string} namespace
                 * @memberof istio.workload.zds.WorkloadInfo
                 * @instance
                 */
                WorkloadInfo.prototype.namespace = "";

                /**
                 * WorkloadInfo serviceAccount.
                 * @member {string} serviceAccount
                 * @memberof istio.workload.zds.WorkloadInfo
                 * @instance
                 */
                WorkloadInfo.prototype.serviceAccount = "";

                /**
                 * Creates a new WorkloadInfo instance using the specified properties.
                 * @function create
                 * @memberof istio.workload.zds.WorkloadInfo
                 * @static
                 * @param {istio.workload.zds.WorkloadInfo.$Properties=} [properties] Properties to set
                 * @returns {istio.workload.zds.WorkloadInfo} WorkloadInfo instance
                 * @type {{
                 *   (properties: istio.workload.zds.WorkloadInfo.$Shape): istio.workload.zds.WorkloadInfo & istio.workload.zds.WorkloadInfo.$Shape;
                 *   (properties?: istio.workload.zds.WorkloadInfo.$Properties): istio.workload.zds.WorkloadInfo;
                 * }}
                 */
                WorkloadInfo.create = function(properties) {
                    return new WorkloadInfo(properties);
                };

                /**
                 * Encodes the specified WorkloadInfo message. Does not implicitly {@link istio.workload.zds.WorkloadInfo.verify|verify} messages.
                 * @function encode
                 * @memberof istio.workload.zds.WorkloadInfo
                 * @static
                 * @param {istio.workload.zds.WorkloadInfo.$Properties} message WorkloadInfo message or plain object to encode
                 * @param {$protobuf.Writer} [writer] Writer to encode to
                 * @returns {$protobuf.Writer} Writer
                 */
                WorkloadInfo.encode = function (message, writer, _depth) {
                    if (!writer)
                        writer = $Writer.create();
                    if (_depth === $undefined)
                        _depth = 0;
                    if (_depth > $util.recursionLimit)
                        throw $Error("max depth exceeded");
                    if (message.name != null && $Object.hasOwnProperty.call(message, "name") && message.name !== "")
                        writer.uint32(/* id 1, wireType 2 =*/10).string(message.name);
                    if (message.namespace != null && $Object.hasOwnProperty.call(message, "namespace") && message.namespace !== "")
                        writer.uint32(/* id 2, wireType 2 =*/18).string(message.namespace);
                    if (message.serviceAccount != null && $Object.hasOwnProperty.call(message, "serviceAccount") && message.serviceAccount !== "")
                        writer.uint32(/* id 3, wireType 2 =*/26).string(message.serviceAccount);
                    if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                        for (let i = 0; i < message.$unknowns.length; ++i)
                            writer.raw(message.$unknowns[i]);
                    return writer;
                };

                /**
                 * Decodes a WorkloadInfo message from the specified reader or buffer.
                 * @function decode
                 * @memberof istio.workload.zds.WorkloadInfo
                 * @static
                 * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
                 * @param {number} [length] Message length if known beforehand
                 * @returns {istio.workload.zds.WorkloadInfo & istio.workload.zds.WorkloadInfo.$Shape} WorkloadInfo
                 * @throws {Error} If the payload is not a reader or valid buffer
                 * @throws {$protobuf.util.ProtocolError} If required fields are missing
                 */
                WorkloadInfo.decode = function (reader, length, _end, _depth, _target) {
                    if (!(reader instanceof $Reader))
                        reader = $Reader.create(reader);
                    if (_depth === $undefined)
                        _depth = 0;
                    if (_depth > $Reader.recursionLimit)
                        throw $Error("max depth exceeded");
                    let end, message, value;
                    if (length === $undefined)
                        end = reader.len;
                    else {
                        end = reader.pos + length;
                        if (end > reader.len)
                            throw $RangeError("index out of range");
                        length = reader.len;
                        reader.len = end;
                    }
                    message = _target || new $root.istio.workload.zds.WorkloadInfo();
                    while (reader.pos < end) {
                        let start = reader.pos;
                        let tag = reader.tag();
                        if (tag === _end) {
                            _end = $undefined;
                            break;
                        }
                        let wireType = tag & 7;
                        switch (tag >>>= 3) {
                        case 1: {
                                if (wireType !== 2)
                                    break;
                                if ((value = reader.stringVerify()).length)
                                    message.name = value;
                                else
                                    delete message.name;
                                continue;
                            }
                        case 2: {
                                if (wireType !== 2)
                                    break;
                                if ((value = reader.stringVerify()).length)
                                    message.namespace = value;
                                else
                                    delete message.namespace;
                                continue;
                            }
                        case 3: {
                                if (wireType !== 2)
                                    break;
                                if ((value = reader.stringVerify()).length)
                                    message.serviceAccount = value;
                                else
                                    delete message.serviceAccount;
                                continue;
                            }
                        }
                        reader.skipType(wireType, _depth, tag);
                        if (!reader.discardUnknown) {
                            $util.makeProp(message, "$unknowns", false);
                            (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                        }
                    }
                    if (length !== $undefined) {
                        if (reader.pos !== end)
                            throw $RangeError("index out of range");
                        reader.len = length;
                    }
                    if (_end !== $undefined)
                        throw $Error("missing end group");
                    return message;
                };

                /**
                 * Gets the type url for WorkloadInfo
                 * @function getTypeUrl
                 * @memberof istio.workload.zds.WorkloadInfo
                 * @static
                 * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
                 * @returns {string} The type url
                 */
                WorkloadInfo.getTypeUrl = function(prefix) {
                    if (prefix === $undefined)
                        prefix = "type.googleapis.com";
                    return prefix + "/istio.workload.zds.WorkloadInfo";
                };

                return WorkloadInfo;
            })();

            zds.AddWorkload = (function() {

                /**
                 * Properties of an AddWorkload.
                 * @typedef {Object} istio.workload.zds.AddWorkload.$Properties
                 * @property {string|null} [uid] AddWorkload uid
                 * @property {istio.workload.zds.WorkloadInfo.$Properties|null} [workloadInfo] AddWorkload workloadInfo
                 * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
                 */

                /**
                 * Properties of an AddWorkload.
                 * @memberof istio.workload.zds
                 * @interface IAddWorkload
                 * @augments istio.workload.zds.AddWorkload.$Properties
                 * @deprecated Use istio.workload.zds.AddWorkload.$Properties instead.
                 */

                /**
                 * Shape of an AddWorkload.
                 * @typedef {istio.workload.zds.AddWorkload.$Properties} istio.workload.zds.AddWorkload.$Shape
                 */

                /**
                 * Constructs a new AddWorkload.
                 * @memberof istio.workload.zds
                 * @classdesc Represents an AddWorkload.
                 * @constructor
                 * @param {istio.workload.zds.AddWorkload.$Properties=} [properties] Properties to set
                 * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
                 */
                const AddWorkload = function (properties) {
                    if (properties)
                        for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                            if (properties[keys[i]] != null && keys[i] !== "__proto__")
                                this[keys[i]] = properties[keys[i]];
                };

                /**
                 * AddWorkload uid.
                 * @member {string} uid
                 * @memberof istio.workload.zds.AddWorkload
                 * @instance
                 */
                AddWorkload.prototype.uid = "";

                /**
                 * AddWorkload workloadInfo.
                 * @member {istio.workload.zds.WorkloadInfo.$Properties|null|undefined} workloadInfo
                 * @memberof istio.workload.zds.AddWorkload
                 * @instance
                 */
                AddWorkload.prototype.workloadInfo = null;

                /**
                 * Creates a new AddWorkload instance using the specified properties.
                 * @function create
                 * @memberof istio.workload.zds.AddWorkload
                 * @static
                 * @param {istio.workload.zds.AddWorkload.$Properties=} [properties] Properties to set
                 * @returns {istio.workload.zds.AddWorkload} AddWorkload instance
                 * @type {{
                 *   (properties: istio.workload.zds.AddWorkload.$Shape): istio.workload.zds.AddWorkload & istio.workload.zds.AddWorkload.$Shape;
                 *   (properties?: istio.workload.zds.AddWorkload.$Properties): istio.workload.zds.AddWorkload;
                 * }}
                 */
                AddWorkload.create = function(properties) {
                    return new AddWorkload(properties);
                };

                /**
                 * Encodes the specified AddWorkload message. Does not implicitly {@link istio.workload.zds.AddWorkload.verify|verify} messages.
                 * @function encode
                 * @memberof istio.workload.zds.AddWorkload
                 * @static
                 * @param {istio.workload.zds.AddWorkload.$Properties} message AddWorkload message or plain object to encode
                 * @param {$protobuf.Writer} [writer] Writer to encode to
                 * @returns {$protobuf.Writer} Writer
                 */
                AddWorkload.encode = function (message, writer, _depth) {
                    if (!writer)
                        writer = $Writer.create();
                    if (_depth === $undefined)
                        _depth = 0;
                    if (_depth > $util.recursionLimit)
                        throw $Error("max depth exceeded");
                    if (message.uid != null && $Object.hasOwnProperty.call(message, "uid") && message.uid !== "")
                        writer.uint32(/* id 1, wireType 2 =*/10).string(message.uid);
                    if (message.workloadInfo != null && $Object.hasOwnProperty.call(message, "workloadInfo"))
                        $root.istio.workload.zds.WorkloadInfo.encode(message.workloadInfo, writer.uint32(/* id 2, wireType 2 =*/18).fork(), _depth + 1).ldelim();
                    if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                        for (let i = 0; i < message.$unknowns.length; ++i)
                            writer.raw(message.$unknowns[i]);
                    return writer;
                };

                /**
                 * Decodes an AddWorkload message from the specified reader or buffer.
                 * @function decode
                 * @memberof istio.workload.zds.AddWorkload
                 * @static
                 * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
                 * @param {number} [length] Message length if known beforehand
                 * @returns {istio.workload.zds.AddWorkload & istio.workload.zds.AddWorkload.$Shape} AddWorkload
                 * @throws {Error} If the payload is not a reader or valid buffer
                 * @throws {$protobuf.util.ProtocolError} If required fields are missing
                 */
                AddWorkload.decode = function (reader, length, _end, _depth, _target) {
                    if (!(reader instanceof $Reader))
                        reader = $Reader.create(reader);
                    if (_depth === $undefined)
                        _depth = 0;
                    if (_depth > $Reader.recursionLimit)
                        throw $Error("max depth exceeded");
                    let end, message, value;
                    if (length === $undefined)
                        end = reader.len;
                    else {
                        end = reader.pos + length;
                        if (end > reader.len)
                            throw $RangeError("index out of range");
                        length = reader.len;
                        reader.len = end;
                    }
                    message = _target || new $root.istio.workload.zds.AddWorkload();
                    while (reader.pos < end) {
                        let start = reader.pos;
                        let tag = reader.tag();
                        if (tag === _end) {
                            _end = $undefined;
                            break;
                        }
                        let wireType = tag & 7;
                        switch (tag >>>= 3) {
                        case 1: {
                                if (wireType !== 2)
                                    break;
                                if ((value = reader.stringVerify()).length)
                                    message.uid = value;
                                else
                                    delete message.uid;
                                continue;
                            }
                        case 2: {
                                if (wireType !== 2)
                                    break;
                                message.workloadInfo = $root.istio.workload.zds.WorkloadInfo.decode(reader, reader.size(), $undefined, _depth + 1, message.workloadInfo);
                                continue;
                            }
                        }
                        reader.skipType(wireType, _depth, tag);
                        if (!reader.discardUnknown) {
                            $util.makeProp(message, "$unknowns", false);
                            (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                        }
                    }
                    if (length !== $undefined) {
                        if (reader.pos !== end)
                            throw $RangeError("index out of range");
                        reader.len = length;
                    }
                    if (_end !== $undefined)
                        throw $Error("missing end group");
                    return message;
                };

                /**
                 * Gets the type url for AddWorkload
                 * @function getTypeUrl
                 * @memberof istio.workload.zds.AddWorkload
                 * @static
                 * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
                 * @returns {string} The type url
                 */
                AddWorkload.getTypeUrl = function(prefix) {
                    if (prefix === $undefined)
                        prefix = "type.googleapis.com";
                    return prefix + "/istio.workload.zds.AddWorkload";
                };

                return AddWorkload;
            })();

            zds.KeepWorkload = (function() {

                /**
                 * Properties of a KeepWorkload.
                 * @typedef {Object} istio.workload.zds.KeepWorkload.$Properties
                 * @property {string|null} [uid] KeepWorkload uid
                 * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
                 */

                /**
                 * Properties of a KeepWorkload.
                 * @memberof istio.workload.zds
                 * @interface IKeepWorkload
                 * @augments istio.workload.zds.KeepWorkload.$Properties
                 * @deprecated Use istio.workload.zds.KeepWorkload.$Properties instead.
                 */

                /**
                 * Shape of a KeepWorkload.
                 * @typedef {istio.workload.zds.KeepWorkload.$Properties} istio.workload.zds.KeepWorkload.$Shape
                 */

                /**
                 * Constructs a new KeepWorkload.
                 * @memberof istio.workload.zds
                 * @classdesc Represents a KeepWorkload.
                 * @constructor
                 * @param {istio.workload.zds.KeepWorkload.$Properties=} [properties] Properties to set
                 * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
                 */
                const KeepWorkload = function (properties) {
                    if (properties)
                        for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                            if (properties[keys[i]] != null && keys[i] !== "__proto__")
                                this[keys[i]] = properties[keys[i]];
                };

                /**
                 * KeepWorkload uid.
                 * @member {string} uid
                 * @memberof istio.workload.zds.KeepWorkload
                 * @instance
                 */
                KeepWorkload.prototype.uid = "";

                /**
                 * Creates a new KeepWorkload instance using the specified properties.
                 * @function create
                 * @memberof istio.workload.zds.KeepWorkload
                 * @static
                 * @param {istio.workload.zds.KeepWorkload.$Properties=} [properties] Properties to set
                 * @returns {istio.workload.zds.KeepWorkload} KeepWorkload instance
                 * @type {{
                 *   (properties: istio.workload.zds.KeepWorkload.$Shape): istio.workload.zds.KeepWorkload & istio.workload.zds.KeepWorkload.$Shape;
                 *   (properties?: istio.workload.zds.KeepWorkload.$Properties): istio.workload.zds.KeepWorkload;
                 * }}
                 */
                KeepWorkload.create = function(properties) {
                    return new KeepWorkload(properties);
                };

                /**
                 * Encodes the specified KeepWorkload message. Does not implicitly {@link istio.workload.zds.KeepWorkload.verify|verify} messages.
                 * @function encode
                 * @memberof istio.workload.zds.KeepWorkload
                 * @static
                 * @param {istio.workload.zds.KeepWorkload.$Properties} message KeepWorkload message or plain object to encode
                 * @param {$protobuf.Writer} [writer] Writer to encode to
                 * @returns {$protobuf.Writer} Writer
                 */
                KeepWorkload.encode = function (message, writer, _depth) {
                    if (!writer)
                        writer = $Writer.create();
                    if (_depth === $undefined)
                        _depth = 0;
                    if (_depth > $util.recursionLimit)
                        throw $Error("max depth exceeded");
                    if (message.uid != null && $Object.hasOwnProperty.call(message, "uid") && message.uid !== "")
                        writer.uint32(/* id 1, wireType 2 =*/10).string(message.uid);
                    if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                        for (let i = 0; i < message.$unknowns.length; ++i)
                            writer.raw(message.$unknowns[i]);
                    return writer;
                };

                /**
                 * Decodes a KeepWorkload message from the specified reader or buffer.
                 * @function decode
                 * @memberof istio.workload.zds.KeepWorkload
                 * @static
                 * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
                 * @param {number} [length] Message length if known beforehand
                 * @returns {istio.workload.zds.KeepWorkload & istio.workload.zds.KeepWorkload.$Shape} KeepWorkload
                 * @throws {Error} If the payload is not a reader or valid buffer
                 * @throws {$protobuf.util.ProtocolError} If required fields are missing
                 */
                KeepWorkload.decode = function (reader, length, _end, _depth, _target) {
                    if (!(reader instanceof $Reader))
                        reader = $Reader.create(reader);
                    if (_depth === $undefined)
                        _depth = 0;
                    if (_depth > $Reader.recursionLimit)
                        throw $Error("max depth exceeded");
                    let end, message, value;
                    if (length === $undefined)
                        end = reader.len;
                    else {
                        end = reader.pos + length;
                        if (end > reader.len)
                            throw $RangeError("index out of range");
                        length = reader.len;
                        reader.len = end;
                    }
                    message = _target || new $root.istio.workload.zds.KeepWorkload();
                    while (reader.pos < end) {
                        let start = reader.pos;
                        let tag = reader.tag();
                        if (tag === _end) {
                            _end = $undefined;
                            break;
                        }
                        let wireType = tag & 7;
                        switch (tag >>>= 3) {
                        case 1: {
                                if (wireType !== 2)
                                    break;
                                if ((value = reader.stringVerify()).length)
                                    message.uid = value;
                                else
                                    delete message.uid;
                                continue;
                            }
                        }
                        reader.skipType(wireType, _depth, tag);
                        if (!reader.discardUnknown) {
                            $util.makeProp(message, "$unknowns", false);
                            (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                        }
                    }
                    if (length !== $undefined) {
                        if (reader.pos !== end)
                            throw $RangeError("index out of range");
                        reader.len = length;
                    }
                    if (_end !== $undefined)
                        throw $Error("missing end group");
                    return message;
                };

                /**
                 * Gets the type url for KeepWorkload
                 * @function getTypeUrl
                 * @memberof istio.workload.zds.KeepWorkload
                 * @static
                 * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
                 * @returns {string} The type url
                 */
                KeepWorkload.getTypeUrl = function(prefix) {
                    if (prefix === $undefined)
                        prefix = "type.googleapis.com";
                    return prefix + "/istio.workload.zds.KeepWorkload";
                };

                return KeepWorkload;
            })();

            zds.DelWorkload = (function() {

                /**
                 * Properties of a DelWorkload.
                 * @typedef {Object} istio.workload.zds.DelWorkload.$Properties
                 * @property {string|null} [uid] DelWorkload uid
                 * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
                 */

                /**
                 * Properties of a DelWorkload.
                 * @memberof istio.workload.zds
                 * @interface IDelWorkload
                 * @augments istio.workload.zds.DelWorkload.$Properties
                 * @deprecated Use istio.workload.zds.DelWorkload.$Properties instead.
                 */

                /**
                 * Shape of a DelWorkload.
                 * @typedef {istio.workload.zds.DelWorkload.$Properties} istio.workload.zds.DelWorkload.$Shape
                 */

                /**
                 * Constructs a new DelWorkload.
                 * @memberof istio.workload.zds
                 * @classdesc Represents a DelWorkload.
                 * @constructor
                 * @param {istio.workload.zds.DelWorkload.$Properties=} [properties] Properties to set
                 * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
                 */
                const DelWorkload = function (properties) {
                    if (properties)
                        for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                            if (properties[keys[i]] != null && keys[i] !== "__proto__")
                                this[keys[i]] = properties[keys[i]];
                };

                /**
                 * DelWorkload uid.
                 * @member {string} uid
                 * @memberof istio.workload.zds.DelWorkload
                 * @instance
                 */
                DelWorkload.prototype.uid = "";

                /**
                 * Creates a new DelWorkload instance using the specified properties.
                 * @function create
                 * @memberof istio.workload.zds.DelWorkload
                 * @static
                 * @param {istio.workload.zds.DelWorkload.$Properties=} [properties] Properties to set
                 * @returns {istio.workload.zds.DelWorkload} DelWorkload instance
                 * @type {{
                 *   (properties: istio.workload.zds.DelWorkload.$Shape): istio.workload.zds.DelWorkload & istio.workload.zds.DelWorkload.$Shape;
                 *   (properties?: istio.workload.zds.DelWorkload.$Properties): istio.workload.zds.DelWorkload;
                 * }}
                 */
                DelWorkload.create = function(properties) {
                    return new DelWorkload(properties);
                };

                /**
                 * Encodes the specified DelWorkload message. Does not implicitly {@link istio.workload.zds.DelWorkload.verify|verify} messages.
                 * @function encode
                 * @memberof istio.workload.zds.DelWorkload
                 * @static
                 * @param {istio.workload.zds.DelWorkload.$Properties} message DelWorkload message or plain object to encode
                 * @param {$protobuf.Writer} [writer] Writer to encode to
                 * @returns {$protobuf.Writer} Writer
                 */
                DelWorkload.encode = function (message, writer, _depth) {
                    if (!writer)
                        writer = $Writer.create();
                    if (_depth === $undefined)
                        _depth = 0;
                    if (_depth > $util.recursionLimit)
                        throw $Error("max depth exceeded");
                    if (message.uid != null && $Object.hasOwnProperty.call(message, "uid") && message.uid !== "")
                        writer.uint32(/* id 2, wireType 2 =*/18).string(message.uid);
                    if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                        for (let i = 0; i < message.$unknowns.length; ++i)
                            writer.raw(message.$unknowns[i]);
                    return writer;
                };

                /**
                 * Decodes a DelWorkload message from the specified reader or buffer.
                 * @function decode
                 * @memberof istio.workload.zds.DelWorkload
                 * @static
                 * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
                 * @param {number} [length] Message length if known beforehand
                 * @returns {istio.workload.zds.DelWorkload & istio.workload.zds.DelWorkload.$Shape} DelWorkload
                 * @throws {Error} If the payload is not a reader or valid buffer
                 * @throws {$protobuf.util.ProtocolError} If required fields are missing
                 */
                DelWorkload.decode = function (reader, length, _end, _depth, _target) {
                    if (!(reader instanceof $Reader))
                        reader = $Reader.create(reader);
                    if (_depth === $undefined)
                        _depth = 0;
                    if (_depth > $Reader.recursionLimit)
                        throw $Error("max depth exceeded");
                    let end, message, value;
                    if (length === $undefined)
                        end = reader.len;
                    else {
                        end = reader.pos + length;
                        if (end > reader.len)
                            throw $RangeError("index out of range");
                        length = reader.len;
                        reader.len = end;
                    }
                    message = _target || new $root.istio.workload.zds.DelWorkload();
                    while (reader.pos < end) {
                        let start = reader.pos;
                        let tag = reader.tag();
                        if (tag === _end) {
                            _end = $undefined;
                            break;
                        }
                        let wireType = tag & 7;
                        switch (tag >>>= 3) {
                        case 2: {
                                if (wireType !== 2)
                                    break;
                                if ((value = reader.stringVerify()).length)
                                    message.uid = value;
                                else
                                    delete message.uid;
                                continue;
                            }
                        }
                        reader.skipType(wireType, _depth, tag);
                        if (!reader.discardUnknown) {
                            $util.makeProp(message, "$unknowns", false);
                            (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                        }
                    }
                    if (length !== $undefined) {
                        if (reader.pos !== end)
                            throw $RangeError("index out of range");
                        reader.len = length;
                    }
                    if (_end !== $undefined)
                        throw $Error("missing end group");
                    return message;
                };

                /**
                 * Gets the type url for DelWorkload
                 * @function getTypeUrl
                 * @memberof istio.workload.zds.DelWorkload
                 * @static
                 * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
                 * @returns {string} The type url
                 */
                DelWorkload.getTypeUrl = function(prefix) {
                    if (prefix === $undefined)
                        prefix = "type.googleapis.com";
                    return prefix + "/istio.workload.zds.DelWorkload";
                };

                return DelWorkload;
            })();

            zds.SnapshotSent = (function() {

                /**
                 * Properties of a SnapshotSent.
                 * @typedef {Object} istio.workload.zds.SnapshotSent.$Properties
                 * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
                 */

                /**
                 * Properties of a SnapshotSent.
                 * @memberof istio.workload.zds
                 * @interface ISnapshotSent
                 * @augments istio.workload.zds.SnapshotSent.$Properties
                 * @deprecated Use istio.workload.zds.SnapshotSent.$Properties instead.
                 */

                /**
                 * Shape of a SnapshotSent.
                 * @typedef {istio.workload.zds.SnapshotSent.$Properties} istio.workload.zds.SnapshotSent.$Shape
                 */

                /**
                 * Constructs a new SnapshotSent.
                 * @memberof istio.workload.zds
                 * @classdesc Represents a SnapshotSent.
                 * @constructor
                 * @param {istio.workload.zds.SnapshotSent.$Properties=} [properties] Properties to set
                 * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
                 */
                const SnapshotSent = function (properties) {
                    if (properties)
                        for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                            if (properties[keys[i]] != null && keys[i] !== "__proto__")
                                this[keys[i]] = properties[keys[i]];
                };

                /**
                 * Creates a new SnapshotSent instance using the specified properties.
                 * @function create
                 * @memberof istio.workload.zds.SnapshotSent
                 * @static
                 * @param {istio.workload.zds.SnapshotSent.$Properties=} [properties] Properties to set
                 * @returns {istio.workload.zds.SnapshotSent} SnapshotSent instance
                 * @type {{
                 *   (properties: istio.workload.zds.SnapshotSent.$Shape): istio.workload.zds.SnapshotSent & istio.workload.zds.SnapshotSent.$Shape;
                 *   (properties?: istio.workload.zds.SnapshotSent.$Properties): istio.workload.zds.SnapshotSent;
                 * }}
                 */
                SnapshotSent.create = function(properties) {
                    return new SnapshotSent(properties);
                };

                /**
                 * Encodes the specified SnapshotSent message. Does not implicitly {@link istio.workload.zds.SnapshotSent.verify|verify} messages.
                 * @function encode
                 * @memberof istio.workload.zds.SnapshotSent
                 * @static
                 * @param {istio.workload.zds.SnapshotSent.$Properties} message SnapshotSent message or plain object to encode
                 * @param {$protobuf.Writer} [writer] Writer to encode to
                 * @returns {$protobuf.Writer} Writer
                 */
                SnapshotSent.encode = function (message, writer, _depth) {
                    if (!writer)
                        writer = $Writer.create();
                    if (_depth === $undefined)
                        _depth = 0;
                    if (_depth > $util.recursionLimit)
                        throw $Error("max depth exceeded");
                    if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                        for (let i = 0; i < message.$unknowns.length; ++i)
                            writer.raw(message.$unknowns[i]);
                    return writer;
                };

                /**
                 * Decodes a SnapshotSent message from the specified reader or buffer.
                 * @function decode
                 * @memberof istio.workload.zds.SnapshotSent
                 * @static
                 * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
                 * @param {number} [length] Message length if known beforehand
                 * @returns {istio.workload.zds.SnapshotSent & istio.workload.zds.SnapshotSent.$Shape} SnapshotSent
                 * @throws {Error} If the payload is not a reader or valid buffer
                 * @throws {$protobuf.util.ProtocolError} If required fields are missing
                 */
                SnapshotSent.decode = function (reader, length, _end, _depth, _target) {
                    if (!(reader instanceof $Reader))
                        reader = $Reader.create(reader);
                    if (_depth === $undefined)
                        _depth = 0;
                    if (_depth > $Reader.recursionLimit)
                        throw $Error("max depth exceeded");
                    let end, message;
                    if (length === $undefined)
                        end = reader.len;
                    else {
                        end = reader.pos + length;
                        if (end > reader.len)
                            throw $RangeError("index out of range");
                        length = reader.len;
                        reader.len = end;
                    }
                    message = _target || new $root.istio.workload.zds.SnapshotSent();
                    while (reader.pos < end) {
                        let start = reader.pos;
                        let tag = reader.tag();
                        if (tag === _end) {
                            _end = $undefined;
                            break;
                        }
                        reader.skipType(tag & 7, _depth, tag);
                        if (!reader.discardUnknown) {
                            $util.makeProp(message, "$unknowns", false);
                            (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                        }
                    }
                    if (length !== $undefined) {
                        if (reader.pos !== end)
                            throw $RangeError("index out of range");
                        reader.len = length;
                    }
                    if (_end !== $undefined)
                        throw $Error("missing end group");
                    return message;
                };

                /**
                 * Gets the type url for SnapshotSent
                 * @function getTypeUrl
                 * @memberof istio.workload.zds.SnapshotSent
                 * @static
                 * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
                 * @returns {string} The type url
                 */
                SnapshotSent.getTypeUrl = function(prefix) {
                    if (prefix === $undefined)
                        prefix = "type.googleapis.com";
                    return prefix + "/istio.workload.zds.SnapshotSent";
                };

                return SnapshotSent;
            })();

            zds.Ack = (function() {

                /**
                 * Properties of an Ack.
                 * @typedef {Object} istio.workload.zds.Ack.$Properties
                 * @property {string|null} [error] Ack error
                 * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
                 */

                /**
                 * Properties of an Ack.
                 * @memberof istio.workload.zds
                 * @interface IAck
                 * @augments istio.workload.zds.Ack.$Properties
                 * @deprecated Use istio.workload.zds.Ack.$Properties instead.
                 */

                /**
                 * Shape of an Ack.
                 * @typedef {istio.workload.zds.Ack.$Properties} istio.workload.zds.Ack.$Shape
                 */

                /**
                 * Constructs a new Ack.
                 * @memberof istio.workload.zds
                 * @classdesc Represents an Ack.
                 * @constructor
                 * @param {istio.workload.zds.Ack.$Properties=} [properties] Properties to set
                 * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
                 */
                const Ack = function (properties) {
                    if (properties)
                        for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                            if (properties[keys[i]] != null && keys[i] !== "__proto__")
                                this[keys[i]] = properties[keys[i]];
                };

                /**
                 * Ack error.
                 * @member {string} error
                 * @memberof istio.workload.zds.Ack
                 * @instance
                 */
                Ack.prototype.error = "";

                /**
                 * Creates a new Ack instance using the specified properties.
                 * @function create
                 * @memberof istio.workload.zds.Ack
                 * @static
                 * @param {istio.workload.zds.Ack.$Properties=} [properties] Properties to set
                 * @returns {istio.workload.zds.Ack} Ack instance
                 * @type {{
                 *   (properties: istio.workload.zds.Ack.$Shape): istio.workload.zds.Ack & istio.workload.zds.Ack.$Shape;
                 *   (properties?: istio.workload.zds.Ack.$Properties): istio.workload.zds.Ack;
                 * }}
                 */
                Ack.create = function(properties) {
                    return new Ack(properties);
                };

                /**
                 * Encodes the specified Ack message. Does not implicitly {@link istio.workload.zds.Ack.verify|verify} messages.
                 * @function encode
                 * @memberof istio.workload.zds.Ack
                 * @static
                 * @param {istio.workload.zds.Ack.$Properties} message Ack message or plain object to encode
                 * @param {$protobuf.Writer} [writer] Writer to encode to
                 * @returns {$protobuf.Writer} Writer
                 */
                Ack.encode = function (message, writer, _depth) {
                    if (!writer)
                        writer = $Writer.create();
                    if (_depth === $undefined)
                        _depth = 0;
                    if (_depth > $util.recursionLimit)
                        throw $Error("max depth exceeded");
                    if (message.error != null && $Object.hasOwnProperty.call(message, "error") && message.error !== "")
                        writer.uint32(/* id 1, wireType 2 =*/10).string(message.error);
                    if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                        for (let i = 0; i < message.$unknowns.length; ++i)
                            writer.raw(message.$unknowns[i]);
                    return writer;
                };

                /**
                 * Decodes an Ack message from the specified reader or buffer.
                 * @function decode
                 * @memberof istio.workload.zds.Ack
                 * @static
                 * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
                 * @param {number} [length] Message length if known beforehand
                 * @returns {istio.workload.zds.Ack & istio.workload.zds.Ack.$Shape} Ack
                 * @throws {Error} If the payload is not a reader or valid buffer
                 * @throws {$protobuf.util.ProtocolError} If required fields are missing
                 */
                Ack.decode = function (reader, length, _end, _depth, _target) {
                    if (!(reader instanceof $Reader))
                        reader = $Reader.create(reader);
                    if (_depth === $undefined)
                        _depth = 0;
                    if (_depth > $Reader.recursionLimit)
                        throw $Error("max depth exceeded");
                    let end, message, value;
                    if (length === $undefined)
                        end = reader.len;
                    else {
                        end = reader.pos + length;
                        if (end > reader.len)
                            throw $RangeError("index out of range");
                        length = reader.len;
                        reader.len = end;
                    }
                    message = _target || new $root.istio.workload.zds.Ack();
                    while (reader.pos < end) {
                        let start = reader.pos;
                        let tag = reader.tag();
                        if (tag === _end) {
                            _end = $undefined;
                            break;
                        }
                        let wireType = tag & 7;
                        switch (tag >>>= 3) {
                        case 1: {
                                if (wireType !== 2)
                                    break;
                                if ((value = reader.stringVerify()).length)
                                    message.error = value;
                                else
                                    delete message.error;
                                continue;
                            }
                        }
                        reader.skipType(wireType, _depth, tag);
                        if (!reader.discardUnknown) {
                            $util.makeProp(message, "$unknowns", false);
                            (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                        }
                    }
                    if (length !== $undefined) {
                        if (reader.pos !== end)
                            throw $RangeError("index out of range");
                        reader.len = length;
                    }
                    if (_end !== $undefined)
                        throw $Error("missing end group");
                    return message;
                };

                /**
                 * Gets the type url for Ack
                 * @function getTypeUrl
                 * @memberof istio.workload.zds.Ack
                 * @static
                 * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
                 * @returns {string} The type url
                 */
                Ack.getTypeUrl = function(prefix) {
                    if (prefix === $undefined)
                        prefix = "type.googleapis.com";
                    return prefix + "/istio.workload.zds.Ack";
                };

                return Ack;
            })();

            zds.WorkloadRequest = (function() {

                /**
                 * Properties of a WorkloadRequest.
                 * @typedef {Object} istio.workload.zds.WorkloadRequest.$Properties
                 * @property {istio.workload.zds.AddWorkload.$Properties|null} [add] WorkloadRequest add
                 * @property {istio.workload.zds.DelWorkload.$Properties|null} [del] WorkloadRequest del
                 * @property {istio.workload.zds.SnapshotSent.$Properties|null} [snapshotSent] WorkloadRequest snapshotSent
                 * @property {istio.workload.zds.KeepWorkload.$Properties|null} [keep] WorkloadRequest keep
                 * @property {"add"|"del"|"snapshotSent"|"keep"} [payload] WorkloadRequest payload
                 * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
                 */

                /**
                 * Properties of a WorkloadRequest.
                 * @memberof istio.workload.zds
                 * @interface IWorkloadRequest
                 * @augments istio.workload.zds.WorkloadRequest.$Properties
                 * @deprecated Use istio.workload.zds.WorkloadRequest.$Properties instead.
                 */

                /**
                 * Narrowed shape of a WorkloadRequest.
                 * @typedef {{
                 *   add?: istio.workload.zds.AddWorkload.$Shape|null;
                 *   del?: istio.workload.zds.DelWorkload.$Shape|null;
                 *   snapshotSent?: istio.workload.zds.SnapshotSent.$Shape|null;
                 *   keep?: istio.workload.zds.KeepWorkload.$Shape|null;
                 *   $unknowns?: Array.<Uint8Array>;
                 * } & (
                 *   ({ payload?: undefined; add?: null; del?: null; snapshotSent?: null; keep?: null }|{ payload?: "add"; add: istio.workload.zds.AddWorkload.$Shape; del?: null; snapshotSent?: null; keep?: null }|{ payload?: "del"; add?: null; del: istio.workload.zds.DelWorkload.$Shape; snapshotSent?: null; keep?: null }|{ payload?: "snapshotSent"; add?: null; del?: null; snapshotSent: istio.workload.zds.SnapshotSent.$Shape; keep?: null }|{ payload?: "keep"; add?: null; del?: null; snapshotSent?: null; keep: istio.workload.zds.KeepWorkload.$Shape })
                 * )} istio.workload.zds.WorkloadRequest.$Shape
                 */

                /**
                 * Constructs a new WorkloadRequest.
                 * @memberof istio.workload.zds
                 * @classdesc Represents a WorkloadRequest.
                 * @constructor
                 * @param {istio.workload.zds.WorkloadRequest.$Properties=} [properties] Properties to set
                 * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
                 */
                const WorkloadRequest = function (properties) {
                    if (properties)
                        for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                            if (properties[keys[i]] != null && keys[i] !== "__proto__")
                                this[keys[i]] = properties[keys[i]];
                };

                /**
                 * WorkloadRequest add.
                 * @member {istio.workload.zds.AddWorkload.$Properties|null|undefined} add
                 * @memberof istio.workload.zds.WorkloadRequest
                 * @instance
                 */
                WorkloadRequest.prototype.add = null;

                /**
                 * WorkloadRequest del.
                 * @member {istio.workload.zds.DelWorkload.$Properties|null|undefined} del
                 * @memberof istio.workload.zds.WorkloadRequest
                 * @instance
                 */
                WorkloadRequest.prototype.del = null;

                /**
                 * WorkloadRequest snapshotSent.
                 * @member {istio.workload.zds.SnapshotSent.$Properties|null|undefined} snapshotSent
                 * @memberof istio.workload.zds.WorkloadRequest
                 * @instance
                 */
                WorkloadRequest.prototype.snapshotSent = null;

                /**
                 * WorkloadRequest keep.
                 * @member {istio.workload.zds.KeepWorkload.$Properties|null|undefined} keep
                 * @memberof istio.workload.zds.WorkloadRequest
                 * @instance
                 */
                WorkloadRequest.prototype.keep = null;

                // OneOf field names bound to virtual getters and setters
                let $oneOfFields;

                /**
                 * WorkloadRequest payload.
                 * @member {"add"|"del"|"snapshotSent"|"keep"|undefined} payload
                 * @memberof istio.workload.zds.WorkloadRequest
                 * @instance
                 */
                $Object.defineProperty(WorkloadRequest.prototype, "payload", {
                    get: $util.oneOfGetter($oneOfFields = ["add", "del", "snapshotSent", "keep"]),
                    set: $util.oneOfSetter($oneOfFields)
                });

                /**
                 * Creates a new WorkloadRequest instance using the specified properties.
                 * @function create
                 * @memberof istio.workload.zds.WorkloadRequest
                 * @static
                 * @param {istio.workload.zds.WorkloadRequest.$Properties=} [properties] Properties to set
                 * @returns {istio.workload.zds.WorkloadRequest} WorkloadRequest instance
                 * @type {{
                 *   (properties: istio.workload.zds.WorkloadRequest.$Shape): istio.workload.zds.WorkloadRequest & istio.workload.zds.WorkloadRequest.$Shape;
                 *   (properties?: istio.workload.zds.WorkloadRequest.$Properties): istio.workload.zds.WorkloadRequest;
                 * }}
                 */
                WorkloadRequest.create = function(properties) {
                    return new WorkloadRequest(properties);
                };

                /**
                 * Encodes the specified WorkloadRequest message. Does not implicitly {@link istio.workload.zds.WorkloadRequest.verify|verify} messages.
                 * @function encode
                 * @memberof istio.workload.zds.WorkloadRequest
                 * @static
                 * @param {istio.workload.zds.WorkloadRequest.$Properties} message WorkloadRequest message or plain object to encode
                 * @param {$protobuf.Writer} [writer] Writer to encode to
                 * @returns {$protobuf.Writer} Writer
                 */
                WorkloadRequest.encode = function (message, writer, _depth) {
                    if (!writer)
                        writer = $Writer.create();
                    if (_depth === $undefined)
                        _depth = 0;
                    if (_depth > $util.recursionLimit)
                        throw $Error("max depth exceeded");
                    if (message.add != null && $Object.hasOwnProperty.call(message, "add"))
                        $root.istio.workload.zds.AddWorkload.encode(message.add, writer.uint32(/* id 1, wireType 2 =*/10).fork(), _depth + 1).ldelim();
                    if (message.del != null && $Object.hasOwnProperty.call(message, "del"))
                        $root.istio.workload.zds.DelWorkload.encode(message.del, writer.uint32(/* id 2, wireType 2 =*/18).fork(), _depth + 1).ldelim();
                    if (message.snapshotSent != null && $Object.hasOwnProperty.call(message, "snapshotSent"))
                        $root.istio.workload.zds.SnapshotSent.encode(message.snapshotSent, writer.uint32(/* id 3, wireType 2 =*/26).fork(), _depth + 1).ldelim();
                    if (message.keep != null && $Object.hasOwnProperty.call(message, "keep"))
                        $root.istio.workload.zds.KeepWorkload.encode(message.keep, writer.uint32(/* id 5, wireType 2 =*/42).fork(), _depth + 1).ldelim();
                    if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                        for (let i = 0; i < message.$unknowns.length; ++i)
                            writer.raw(message.$unknowns[i]);
                    return writer;
                };

                /**
                 * Decodes a WorkloadRequest message from the specified reader or buffer.
                 * @function decode
                 * @memberof istio.workload.zds.WorkloadRequest
                 * @static
                 * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
                 * @param {number} [length] Message length if known beforehand
                 * @returns {istio.workload.zds.WorkloadRequest & istio.workload.zds.WorkloadRequest.$Shape} WorkloadRequest
                 * @throws {Error} If the payload is not a reader or valid buffer
                 * @throws {$protobuf.util.ProtocolError} If required fields are missing
                 */
                WorkloadRequest.decode = function (reader, length, _end, _depth, _target) {
                    if (!(reader instanceof $Reader))
                        reader = $Reader.create(reader);
                    if (_depth === $undefined)
                        _depth = 0;
                    if (_depth > $Reader.recursionLimit)
                        throw $Error("max depth exceeded");
                    let end, message;
                    if (length === $undefined)
                        end = reader.len;
                    else {
                        end = reader.pos + length;
                        if (end > reader.len)
                            throw $RangeError("index out of range");
                        length = reader.len;
                        reader.len = end;
                    }
                    message = _target || new $root.istio.workload.zds.WorkloadRequest();
                    while (reader.pos < end) {
                        let start = reader.pos;
                        let tag = reader.tag();
                        if (tag === _end) {
                            _end = $undefined;
                            break;
                        }
                        let wireType = tag & 7;
                        switch (tag >>>= 3) {
                        case 1: {
                                if (wireType !== 2)
                                    break;
                                message.add = $root.istio.workload.zds.AddWorkload.decode(reader, reader.size(), $undefined, _depth + 1, message.add);
                                message.payload = "add";
                                continue;
                            }
                        case 2: {
                                if (wireType !== 2)
                                    break;
                                message.del = $root.istio.workload.zds.DelWorkload.decode(reader, reader.size(), $undefined, _depth + 1, message.del);
                                message.payload = "del";
                                continue;
                            }
                        case 3: {
                                if (wireType !== 2)
                                    break;
                                message.snapshotSent = $root.istio.workload.zds.SnapshotSent.decode(reader, reader.size(), $undefined, _depth + 1, message.snapshotSent);
                                message.payload = "snapshotSent";
                                continue;
                            }
                        case 5: {
                                if (wireType !== 2)
                                    break;
                                message.keep = $root.istio.workload.zds.KeepWorkload.decode(reader, reader.size(), $undefined, _depth + 1, message.keep);
                                message.payload = "keep";
                                continue;
                            }
                        }
                        reader.skipType(wireType, _depth, tag);
                        if (!reader.discardUnknown) {
                            $util.makeProp(message, "$unknowns", false);
                            (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                        }
                    }
                    if (length !== $undefined) {
                        if (reader.pos !== end)
                            throw $RangeError("index out of range");
                        reader.len = length;
                    }
                    if (_end !== $undefined)
                        throw $Error("missing end group");
                    return message;
                };

                /**
                 * Gets the type url for WorkloadRequest
                 * @function getTypeUrl
                 * @memberof istio.workload.zds.WorkloadRequest
                 * @static
                 * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
                 * @returns {string} The type url
                 */
                WorkloadRequest.getTypeUrl = function(prefix) {
                    if (prefix === $undefined)
                        prefix = "type.googleapis.com";
                    return prefix + "/istio.workload.zds.WorkloadRequest";
                };

                return WorkloadRequest;
            })();

            zds.WorkloadResponse = (function() {

                /**
                 * Properties of a WorkloadResponse.
                 * @typedef {Object} istio.workload.zds.WorkloadResponse.$Properties
                 * @property {istio.workload.zds.Ack.$Properties|null} [ack] WorkloadResponse ack
                 * @property {"ack"} [payload] WorkloadResponse payload
                 * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
                 */

                /**
                 * Properties of a WorkloadResponse.
                 * @memberof istio.workload.zds
                 * @interface IWorkloadResponse
                 * @augments istio.workload.zds.WorkloadResponse.$Properties
                 * @deprecated Use istio.workload.zds.WorkloadResponse.$Properties instead.
                 */

                /**
                 * Narrowed shape of a WorkloadResponse.
                 * @typedef {{
                 *   ack?: istio.workload.zds.Ack.$Shape|null;
                 *   $unknowns?: Array.<Uint8Array>;
                 * } & (
                 *   ({ payload?: undefined; ack?: null }|{ payload?: "ack"; ack: istio.workload.zds.Ack.$Shape })
                 * )} istio.workload.zds.WorkloadResponse.$Shape
                 */

                /**
                 * Constructs a new WorkloadResponse.
                 * @memberof istio.workload.zds
                 * @classdesc Represents a WorkloadResponse.
                 * @constructor
                 * @param {istio.workload.zds.WorkloadResponse.$Properties=} [properties] Properties to set
                 * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
                 */
                const WorkloadResponse = function (properties) {
                    if (properties)
                        for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                            if (properties[keys[i]] != null && keys[i] !== "__proto__")
                                this[keys[i]] = properties[keys[i]];
                };

                /**
                 * WorkloadResponse ack.
                 * @member {istio.workload.zds.Ack.$Properties|null|undefined} ack
                 * @memberof istio.workload.zds.WorkloadResponse
                 * @instance
                 */
                WorkloadResponse.prototype.ack = null;

                // OneOf field names bound to virtual getters and setters
                let $oneOfFields;

                /**
                 * WorkloadResponse payload.
                 * @member {"ack"|undefined} payload
                 * @memberof istio.workload.zds.WorkloadResponse
                 * @instance
                 */
                $Object.defineProperty(WorkloadResponse.prototype, "payload", {
                    get: $util.oneOfGetter($oneOfFields = ["ack"]),
                    set: $util.oneOfSetter($oneOfFields)
                });

                /**
                 * Creates a new WorkloadResponse instance using the specified properties.
                 * @function create
                 * @memberof istio.workload.zds.WorkloadResponse
                 * @static
                 * @param {istio.workload.zds.WorkloadResponse.$Properties=} [properties] Properties to set
                 * @returns {istio.workload.zds.WorkloadResponse} WorkloadResponse instance
                 * @type {{
                 *   (properties: istio.workload.zds.WorkloadResponse.$Shape): istio.workload.zds.WorkloadResponse & istio.workload.zds.WorkloadResponse.$Shape;
                 *   (properties?: istio.workload.zds.WorkloadResponse.$Properties): istio.workload.zds.WorkloadResponse;
                 * }}
                 */
                WorkloadResponse.create = function(properties) {
                    return new WorkloadResponse(properties);
                };

                /**
                 * Encodes the specified WorkloadResponse message. Does not implicitly {@link istio.workload.zds.WorkloadResponse.verify|verify} messages.
                 * @function encode
                 * @memberof istio.workload.zds.WorkloadResponse
                 * @static
                 * @param {istio.workload.zds.WorkloadResponse.$Properties} message WorkloadResponse message or plain object to encode
                 * @param {$protobuf.Writer} [writer] Writer to encode to
                 * @returns {$protobuf.Writer} Writer
                 */
                WorkloadResponse.encode = function (message, writer, _depth) {
                    if (!writer)
                        writer = $Writer.create();
                    if (_depth === $undefined)
                        _depth = 0;
                    if (_depth > $util.recursionLimit)
                        throw $Error("max depth exceeded");
                    if (message.ack != null && $Object.hasOwnProperty.call(message, "ack"))
                        $root.istio.workload.zds.Ack.encode(message.ack, writer.uint32(/* id 1, wireType 2 =*/10).fork(), _depth + 1).ldelim();
                    if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                        for (let i = 0; i < message.$unknowns.length; ++i)
                            writer.raw(message.$unknowns[i]);
                    return writer;
                };

                /**
                 * Decodes a WorkloadResponse message from the specified reader or buffer.
                 * @function decode
                 * @memberof istio.workload.zds.WorkloadResponse
                 * @static
                 * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
                 * @param {number} [length] Message length if known beforehand
                 * @returns {istio.workload.zds.WorkloadResponse & istio.workload.zds.WorkloadResponse.$Shape} WorkloadResponse
                 * @throws {Error} If the payload is not a reader or valid buffer
                 * @throws {$protobuf.util.ProtocolError} If required fields are missing
                 */
                WorkloadResponse.decode = function (reader, length, _end, _depth, _target) {
                    if (!(reader instanceof $Reader))
                        reader = $Reader.create(reader);
                    if (_depth === $undefined)
                        _depth = 0;
                    if (_depth > $Reader.recursionLimit)
                        throw $Error("max depth exceeded");
                    let end, message;
                    if (length === $undefined)
                        end = reader.len;
                    else {
                        end = reader.pos + length;
                        if (end > reader.len)
                            throw $RangeError("index out of range");
                        length = reader.len;
                        reader.len = end;
                    }
                    message = _target || new $root.istio.workload.zds.WorkloadResponse();
                    while (reader.pos < end) {
                        let start = reader.pos;
                        let tag = reader.tag();
                        if (tag === _end) {
                            _end = $undefined;
                            break;
                        }
                        let wireType = tag & 7;
                        switch (tag >>>= 3) {
                        case 1: {
                                if (wireType !== 2)
                                    break;
                                message.ack = $root.istio.workload.zds.Ack.decode(reader, reader.size(), $undefined, _depth + 1, message.ack);
                                message.payload = "ack";
                                continue;
                            }
                        }
                        reader.skipType(wireType, _depth, tag);
                        if (!reader.discardUnknown) {
                            $util.makeProp(message, "$unknowns", false);
                            (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                        }
                    }
                    if (length !== $undefined) {
                        if (reader.pos !== end)
                            throw $RangeError("index out of range");
                        reader.len = length;
                    }
                    if (_end !== $undefined)
                        throw $Error("missing end group");
                    return message;
                };

                /**
                 * Gets the type url for WorkloadResponse
                 * @function getTypeUrl
                 * @memberof istio.workload.zds.WorkloadResponse
                 * @static
                 * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
                 * @returns {string} The type url
                 */
                WorkloadResponse.getTypeUrl = function(prefix) {
                    if (prefix === $undefined)
                        prefix = "type.googleapis.com";
                    return prefix + "/istio.workload.zds.WorkloadResponse";
                };

                return WorkloadResponse;
            })();

            return zds;
        })();

        return workload;
    })();

    return istio;
})();

export {
  $root as default
};
